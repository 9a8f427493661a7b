//! The toolbox image: this very binary at `/.nosh/nosh` (with `/nosh` a
//! symlink to it, the sidecar's entry), imported into the engine
//! from an in-memory tar (the engine's image import: no registry, no
//! Dockerfile, no BuildKit). Its tag carries a hash of the binary, so host and
//! toolbox are always the same build and the next run is a cache hit.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use bollard::body_full;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::host::engine::Engine;
use crate::host::error::{HostError, from_engine, status_of};
use crate::tools::bundle::Plan;

/// Repository of the toolbox images.
pub const REPO: &str = "nosh-toolbox";

/// This binary, named by the sha256 of its bytes. Hashing 12 MB costs more
/// than the rest of an attach's own work, so the hash is remembered per
/// file (see [`HashCache`]) and the bytes are read only when the image has
/// to be imported, where they are hashed again: the image holds exactly
/// what its tag names.
pub struct SelfBinary {
    /// First 12 hex digits of its sha256.
    pub short_hash: String,
    /// The bytes, when they were read for the hash (the cache did not know
    /// this file): the import uses them rather than reading them again.
    bytes: Option<Vec<u8>>,
    /// Where it was found.
    path: PathBuf,
    /// Where the hash is remembered (`None`: nowhere).
    cache: Option<HashCache>,
    /// The file as found, for the cache.
    key: Option<FileKey>,
}

/// The running binary. A running executable cannot be written to (the
/// kernel refuses with ETXTBSY), so its file's identity names its bytes
/// as long as this process lives.
const SELF_EXE: &str = "/proc/self/exe";

impl SelfBinary {
    /// Names this binary: from the cache when it knows the file, else by
    /// reading and hashing it. Run it on a blocking thread: it overlaps
    /// the engine calls that find the target.
    pub fn read() -> Result<SelfBinary, HostError> {
        SelfBinary::identify(Path::new(SELF_EXE), HashCache::users())
    }

    /// Names the binary at `path`, remembering its hash in `cache`.
    pub fn identify(path: &Path, cache: Option<HashCache>) -> Result<SelfBinary, HostError> {
        let failed = |source| HostError::HashBinary {
            path: path.display().to_string(),
            source,
        };
        let key = std::fs::metadata(path).map(|m| FileKey::of(&m)).ok();
        if let (Some(cache), Some(key)) = (&cache, &key)
            && let Some(short_hash) = cache.lookup(key)
        {
            return Ok(SelfBinary {
                short_hash,
                bytes: None,
                path: path.to_path_buf(),
                cache: Some(cache.clone()),
                key: Some(key.clone()),
            });
        }
        let bytes = std::fs::read(path).map_err(failed)?;
        let short_hash = short_hash(&bytes);
        let binary = SelfBinary {
            short_hash,
            bytes: Some(bytes),
            path: path.to_path_buf(),
            cache,
            key,
        };
        binary.remember();
        Ok(binary)
    }

    /// Writes the hash into the cache if the file is still the one it was
    /// before the read (another file at `path` is not remembered under the
    /// first one's identity).
    fn remember(&self) {
        let (Some(cache), Some(key)) = (&self.cache, &self.key) else {
            return;
        };
        let now = std::fs::metadata(&self.path).map(|m| FileKey::of(&m)).ok();
        if now.as_ref() == Some(key) {
            cache.store(key, &self.short_hash);
        }
    }

    /// Whether the hash came from the cache (the bytes were not read).
    pub fn remembered(&self) -> bool {
        self.bytes.is_none()
    }

    /// `nosh-toolbox:<version>-<hash>`.
    pub fn tag(&self) -> String {
        format!("{REPO}:{}", tag_of(&self.short_hash))
    }

    /// The bytes to import, and their hash. Read now unless they were read
    /// for the hash; hashed again either way, so that the image holds what
    /// its tag names even if the cache was wrong (the caller then tags it
    /// by what was read, and the cache learns it).
    fn contents(&self) -> Result<(std::borrow::Cow<'_, [u8]>, String), HostError> {
        let bytes = match &self.bytes {
            Some(b) => std::borrow::Cow::Borrowed(&b[..]),
            None => std::borrow::Cow::Owned(std::fs::read(&self.path).map_err(|source| {
                HostError::HashBinary {
                    path: self.path.display().to_string(),
                    source,
                }
            })?),
        };
        let hash = short_hash(&bytes);
        if hash != self.short_hash
            && let (Some(cache), Some(key)) = (&self.cache, &self.key)
        {
            cache.store(key, &hash);
        }
        Ok((bytes, hash))
    }
}

/// What names a file's bytes without reading them: device, inode, size,
/// modification and change times. Rewriting the file changes its mtime and
/// ctime (and ctime cannot be set back), replacing it changes the inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey(String);

impl FileKey {
    fn of(m: &std::fs::Metadata) -> FileKey {
        use std::os::unix::fs::MetadataExt;
        FileKey(format!(
            "{}:{}:{}:{}.{:09}:{}.{:09}",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        ))
    }
}

/// Hashes of binaries by [`FileKey`], one `KEY HASH` line each, newest
/// first: `$XDG_CACHE_HOME/nosh/binary-hashes` (else `~/.cache/nosh/...`).
/// Used only if this user owns the file and its directory and nobody else
/// may write them: a wrong hash would pick another build's image.
#[derive(Debug, Clone)]
pub struct HashCache {
    path: PathBuf,
}

impl HashCache {
    /// The most lines kept: one per build of nosh run lately.
    const ENTRIES: usize = 16;
    /// The most bytes read of it.
    const MAX_BYTES: u64 = 16 * 1024;

    /// The user's cache (next to direct attach's bundles).
    fn users() -> Option<HashCache> {
        let dir = crate::tools::bundle::cache_root().parent()?.to_path_buf();
        Some(HashCache::at(dir.join("binary-hashes")))
    }

    pub fn at(path: PathBuf) -> HashCache {
        HashCache { path }
    }

    /// Whether `m` is this user's and only this user's to write.
    fn owned(m: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o022 == 0
    }

    fn dir_is_ours(&self) -> bool {
        self.path
            .parent()
            .and_then(|d| std::fs::symlink_metadata(d).ok())
            .is_some_and(|m| m.is_dir() && Self::owned(&m))
    }

    /// The lines of the cache, if it is ours.
    fn lines(&self) -> Vec<(String, String)> {
        use std::io::Read;
        if !self.dir_is_ours() {
            return Vec::new();
        }
        let Ok(file) = crate::target::file::open(&self.path) else {
            return Vec::new();
        };
        if !file.metadata().is_ok_and(|m| Self::owned(&m)) {
            return Vec::new();
        }
        let mut text = String::new();
        if file
            .take(Self::MAX_BYTES)
            .read_to_string(&mut text)
            .is_err()
        {
            return Vec::new();
        }
        parse_hash_lines(&text)
    }

    /// The hash remembered for `key`.
    fn lookup(&self, key: &FileKey) -> Option<String> {
        self.lines()
            .into_iter()
            .find_map(|(k, hash)| (k == key.0).then_some(hash))
    }

    /// Remembers `hash` for `key`, first; best effort (a read-only home only
    /// costs the next run the hash). Replaced whole, by rename: a reader
    /// sees the old lines or the new ones.
    fn store(&self, key: &FileKey, hash: &str) {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let Some(dir) = self.path.parent() else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() || !self.dir_is_ours() {
            return;
        }
        let mut lines = vec![(key.0.clone(), hash.to_string())];
        lines.extend(self.lines().into_iter().filter(|(k, _)| *k != key.0));
        lines.truncate(Self::ENTRIES);
        let text: String = lines.iter().map(|(k, h)| format!("{k} {h}\n")).collect();
        let tmp = dir.join(format!(".binary-hashes.{}.tmp", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if written.is_err() || std::fs::rename(&tmp, &self.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// `KEY HASH` lines; anything else (a hash that is not 12 lower-case hex
/// digits, a line without two fields) is left out.
pub fn parse_hash_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (key, hash) = (fields.next()?, fields.next()?);
            let hex = hash.len() == 12
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            (fields.next().is_none() && !key.is_empty() && hex)
                .then(|| (key.to_string(), hash.to_string()))
        })
        .collect()
}

fn tag_of(short_hash: &str) -> String {
    format!("{}-{short_hash}", env!("CARGO_PKG_VERSION"))
}

/// First 12 hex digits of the sha256 of `bytes`.
pub fn short_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Where the binary lives in the toolbox image. A directory of its own, so a
/// replica can mount just it (a volume initialised from the image there)
/// without covering anything of the app's image.
pub const BINARY_DIR: &str = "/.nosh";

/// A tar holding `binary` as `/.nosh/nosh`, mode 0755, owned by root, and
/// `/nosh` a symlink to it.
pub fn toolbox_tar(binary: &[u8]) -> std::io::Result<Vec<u8>> {
    toolbox_tar_with(binary, None)
}

/// [`toolbox_tar`], and brought tools at `/.nosh/tools` (the toolbox's
/// [`crate::tools::SIDECAR_DIR`]) when there are some.
pub fn toolbox_tar_with(binary: &[u8], tools: Option<&Plan>) -> std::io::Result<Vec<u8>> {
    let extra = tools.map_or(0, |p| p.total_size() as usize + 64 * 1024);
    let mut builder = tar::Builder::new(Vec::with_capacity(binary.len() + extra + 4096));
    let header = |kind: tar::EntryType, size: usize, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(size as u64);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(kind);
        h
    };
    let mut dir = header(tar::EntryType::Directory, 0, 0o755);
    builder.append_data(&mut dir, ".nosh/", std::io::empty())?;
    let mut file = header(tar::EntryType::Regular, binary.len(), 0o755);
    builder.append_data(&mut file, ".nosh/nosh", binary)?;
    let mut link = header(tar::EntryType::Symlink, 0, 0o777);
    builder.append_link(&mut link, "nosh", ".nosh/nosh")?;
    if let Some(plan) = tools {
        plan.append_to_tar(
            &mut builder,
            crate::tools::SIDECAR_DIR.trim_start_matches('/'),
        )?;
    }
    builder.into_inner()
}

/// The Dockerfile-like instructions applied at import: the image runs the
/// toolbox entry, so `docker run IMAGE --pid 1` works by hand as well.
pub fn import_changes() -> Vec<String> {
    vec![
        r#"ENTRYPOINT ["/nosh","toolbox"]"#.to_string(),
        format!("LABEL io.nosh.version={}", env!("CARGO_PKG_VERSION")),
    ]
}

/// Makes sure the engine has the toolbox image for `binary`; returns its tag.
pub async fn ensure(engine: &Engine, binary: &SelfBinary) -> Result<String, HostError> {
    ensure_with(engine, binary, None).await
}

/// The toolbox image for `binary` that also carries the brought tools of
/// `tools`: `nosh-toolbox:<version>-<hash>-<tools key>`, imported once per
/// binary and set of host files (the key changes when any of them does),
/// so the next session with the same tools starts as fast as one without.
/// `nosh gc` removes it when no sidecar uses it.
pub async fn ensure_with(
    engine: &Engine,
    binary: &SelfBinary,
    tools: Option<&Plan>,
) -> Result<String, HostError> {
    let tag = match tools {
        Some(plan) => format!("{}-{}", binary.tag(), plan.key),
        None => binary.tag(),
    };
    match engine.docker.inspect_image(&tag).await {
        Ok(_) => {
            engine.log.say(|| format!("toolbox image {tag} is present"));
            return Ok(tag);
        }
        Err(e) if status_of(&e) == Some(404) => {}
        Err(e) => return Err(from_engine(&engine.endpoint, "inspect image", &e)),
    }
    // The image must be imported: only now are the bytes read (unless the
    // hash needed them), and they are hashed again for the tag.
    let (bytes, hash) = binary.contents()?;
    let tag = if hash == binary.short_hash {
        tag
    } else {
        engine.log.say(|| {
            format!(
                "the remembered hash {} is not this binary's ({hash}): tagged by what is imported",
                binary.short_hash
            )
        });
        let fresh = format!("{REPO}:{}", tag_of(&hash));
        match tools {
            Some(plan) => format!("{fresh}-{}", plan.key),
            None => fresh,
        }
    };
    let progress = std::io::stderr().is_terminal();
    let tools_bytes = tools.map_or(0, Plan::total_size);
    let mb = (bytes.len() as u64 + tools_bytes) as f64 / 1e6;
    let with = tools
        .map(|p| format!(" with {} brought tool(s)", p.manifest.tools.len()))
        .unwrap_or_default();
    if progress {
        eprint!("nosh: importing toolbox image {tag}{with} ({mb:.1} MB)...");
    }
    engine
        .log
        .say(|| format!("importing {tag}{with} ({mb:.1} MB)"));
    let result = import(engine, &bytes, tools, &tag).await;
    if progress {
        eprintln!("{}", if result.is_ok() { " done" } else { " failed" });
    }
    result?;
    engine.log.say(|| format!("imported {tag}"));
    Ok(tag)
}

async fn import(
    engine: &Engine,
    binary: &[u8],
    tools: Option<&Plan>,
    tag: &str,
) -> Result<(), HostError> {
    let failed = |reason: String| HostError::ImportFailed {
        image: tag.to_string(),
        reason,
    };
    let tar = toolbox_tar_with(binary, tools).map_err(|e| failed(e.to_string()))?;
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        // The whole reference in `repo` (the API allows a tag there): Podman
        // 4's Docker-compatible import ignores `tag` and would name the
        // image `nosh-toolbox:latest`.
        .repo(tag)
        .changes(import_changes())
        .build();
    let mut stream = engine
        .docker
        .create_image(Some(options), Some(body_full(tar.into())), None);
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail {
                    return Err(failed(
                        detail.message.unwrap_or_else(|| "unknown error".into()),
                    ));
                }
            }
            Err(e) => {
                return Err(match from_engine(&engine.endpoint, "import", &e) {
                    HostError::Engine { reason, .. } => failed(reason),
                    other => other,
                });
            }
        }
    }
    engine
        .docker
        .inspect_image(tag)
        .await
        .map_err(|e| failed(format!("the image is not there after the import ({e})")))?;
    Ok(())
}

/// `--toolbox-image REF`: must already exist.
pub async fn check_given(engine: &Engine, image: &str) -> Result<(), HostError> {
    match engine.docker.inspect_image(image).await {
        Ok(_) => Ok(()),
        Err(e) if status_of(&e) == Some(404) => Err(HostError::NoToolboxImage(image.into())),
        Err(e) => Err(from_engine(&engine.endpoint, "inspect image", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn the_tag_names_the_version_and_the_binary_hash() {
        let dir = tempfile::tempdir().unwrap();
        let b = SelfBinary::identify(&file(dir.path(), "nosh", b"abc"), None).unwrap();
        assert_eq!(b.short_hash, "ba7816bf8f01");
        assert_eq!(
            b.tag(),
            format!("nosh-toolbox:{}-ba7816bf8f01", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn a_remembered_hash_names_the_binary_without_reading_it_and_the_import_checks_it() {
        let dir = tempfile::tempdir().unwrap();
        let bin = file(dir.path(), "nosh", b"abc");
        let cache = HashCache::at(dir.path().join("cache/binary-hashes"));
        let first = SelfBinary::identify(&bin, Some(cache.clone())).unwrap();
        assert!(first.bytes.is_some());
        let again = SelfBinary::identify(&bin, Some(cache.clone())).unwrap();
        assert!(again.bytes.is_none(), "the cache was not used");
        assert_eq!(again.short_hash, "ba7816bf8f01");

        // A wrong hash in the cache names the binary until an import, which
        // hashes what it puts in the image and corrects the cache.
        let text = std::fs::read_to_string(&cache.path).unwrap();
        std::fs::write(&cache.path, text.replace("ba7816bf8f01", "000000000000")).unwrap();
        let lied = SelfBinary::identify(&bin, Some(cache.clone())).unwrap();
        assert_eq!(lied.short_hash, "000000000000");
        let (bytes, hash) = lied.contents().unwrap();
        assert_eq!((&bytes[..], hash.as_str()), (&b"abc"[..], "ba7816bf8f01"));
        let fixed = SelfBinary::identify(&bin, Some(cache)).unwrap();
        assert_eq!(fixed.short_hash, "ba7816bf8f01");
    }

    #[test]
    fn a_binary_rewritten_with_its_old_size_and_mtime_gets_a_new_hash() {
        let dir = tempfile::tempdir().unwrap();
        let bin = file(dir.path(), "nosh", b"abc");
        let cache = HashCache::at(dir.path().join("binary-hashes"));
        let before = SelfBinary::identify(&bin, Some(cache.clone())).unwrap();
        let mtime = std::fs::metadata(&bin).unwrap().modified().unwrap();
        // Past the file system's timestamp granularity.
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::write(&bin, b"abd").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&bin)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let after = SelfBinary::identify(&bin, Some(cache.clone())).unwrap();
        assert_ne!(after.short_hash, before.short_hash);
        assert_eq!(after.short_hash, short_hash(b"abd"));
        // A copy elsewhere is another file, hashed on its own.
        let copy = file(dir.path(), "copy", b"xyz");
        let other = SelfBinary::identify(&copy, Some(cache)).unwrap();
        assert_eq!(other.short_hash, short_hash(b"xyz"));
    }

    #[test]
    fn a_cache_others_may_write_is_not_believed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = file(dir.path(), "nosh", b"abc");
        let cache = HashCache::at(dir.path().join("binary-hashes"));
        SelfBinary::identify(&bin, Some(cache.clone())).unwrap();
        let text = std::fs::read_to_string(&cache.path).unwrap();
        std::fs::write(&cache.path, text.replace("ba7816bf8f01", "000000000000")).unwrap();
        std::fs::set_permissions(&cache.path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let b = SelfBinary::identify(&bin, Some(cache)).unwrap();
        assert_eq!(b.short_hash, "ba7816bf8f01");
        assert!(b.bytes.is_some());
    }

    #[test]
    fn cache_lines_hold_a_key_and_twelve_hex_digits_or_are_ignored() {
        let lines = parse_hash_lines(
            "1:2:3:4.5:6.7 0123456789ab\n\
             k 0123456789AB\n\
             k 0123456789a\n\
             k 0123456789ab extra\n\
             \x1b[2J\n\
             \n\
             k2 ffffffffffff\n",
        );
        assert_eq!(
            lines,
            [
                ("1:2:3:4.5:6.7".to_string(), "0123456789ab".to_string()),
                ("k2".to_string(), "ffffffffffff".to_string()),
            ]
        );
    }

    #[test]
    fn the_tar_holds_only_an_executable_nosh_and_its_link() {
        let tar = toolbox_tar(b"\x7fELF...").unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let entries: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().mode().unwrap(),
                    e.header().size().unwrap(),
                    e.link_name()
                        .unwrap()
                        .map(|l| l.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                (".nosh/".to_string(), 0o755, 0, None),
                (".nosh/nosh".to_string(), 0o755, 7, None),
                ("nosh".to_string(), 0o777, 0, Some(".nosh/nosh".to_string())),
            ]
        );
    }

    #[test]
    fn the_image_runs_the_toolbox_entry() {
        assert_eq!(import_changes()[0], r#"ENTRYPOINT ["/nosh","toolbox"]"#);
    }
}
