//! The toolbox image: this very binary at `/.nosh/nosh` (with `/nosh` a
//! symlink to it, the sidecar's entry), imported into the engine
//! from an in-memory tar (the engine's image import: no registry, no
//! Dockerfile, no BuildKit). Its tag carries a hash of the binary, so host and
//! toolbox are always the same build and the next run is a cache hit.

use std::io::IsTerminal;

use bollard::body_full;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::host::engine::Engine;
use crate::host::error::{HostError, from_engine, status_of};
use crate::tools::bundle::Plan;

/// Repository of the toolbox images.
pub const REPO: &str = "nosh-toolbox";

/// This binary, read once: hashed for the tag, and the tar's only file when
/// the image has to be imported.
pub struct SelfBinary {
    pub bytes: Vec<u8>,
    /// First 12 hex digits of its sha256.
    pub short_hash: String,
}

impl SelfBinary {
    /// Reads `/proc/self/exe`. Run it on a blocking thread: it overlaps the
    /// engine calls that find the target.
    pub fn read() -> Result<SelfBinary, HostError> {
        const PATH: &str = "/proc/self/exe";
        let bytes = std::fs::read(PATH).map_err(|source| HostError::HashBinary {
            path: PATH.into(),
            source,
        })?;
        let short_hash = short_hash(&bytes);
        Ok(SelfBinary { bytes, short_hash })
    }

    /// `nosh-toolbox:<version>-<hash>`.
    pub fn tag(&self) -> String {
        format!("{REPO}:{}", tag_of(&self.short_hash))
    }
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
    let progress = std::io::stderr().is_terminal();
    let tools_bytes = tools.map_or(0, Plan::total_size);
    let mb = (binary.bytes.len() as u64 + tools_bytes) as f64 / 1e6;
    let with = tools
        .map(|p| format!(" with {} brought tool(s)", p.manifest.tools.len()))
        .unwrap_or_default();
    if progress {
        eprint!("nosh: importing toolbox image {tag}{with} ({mb:.1} MB)...");
    }
    engine
        .log
        .say(|| format!("importing {tag}{with} ({mb:.1} MB)"));
    let result = import(engine, binary, tools, &tag).await;
    if progress {
        eprintln!("{}", if result.is_ok() { " done" } else { " failed" });
    }
    result?;
    engine.log.say(|| format!("imported {tag}"));
    Ok(tag)
}

async fn import(
    engine: &Engine,
    binary: &SelfBinary,
    tools: Option<&Plan>,
    tag: &str,
) -> Result<(), HostError> {
    let failed = |reason: String| HostError::ImportFailed {
        image: tag.to_string(),
        reason,
    };
    let tar = toolbox_tar_with(&binary.bytes, tools).map_err(|e| failed(e.to_string()))?;
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

    #[test]
    fn the_tag_names_the_version_and_the_binary_hash() {
        let b = SelfBinary {
            bytes: b"abc".to_vec(),
            short_hash: short_hash(b"abc"),
        };
        assert_eq!(b.short_hash, "ba7816bf8f01");
        assert_eq!(
            b.tag(),
            format!("nosh-toolbox:{}-ba7816bf8f01", env!("CARGO_PKG_VERSION"))
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
