//! `nosh ls` and `nosh gc`: the sidecars and replicas the engine knows
//! about, and what replica sessions leave (toolbox helpers, temporary
//! images), found by their `io.nosh.session` label.

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::models::ContainerSummary;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};

use super::engine::Engine;
use super::error::{HostError, from_engine, status_of};
use super::replica::LABEL_CREATED;
use super::session::{LABEL_SESSION, LABEL_TARGET, LABEL_TARGET_NAME, remove};

/// Helpers and temporary images younger than this are left to the session
/// that is setting them up (its replica does not exist yet).
const GRACE_SECS: i64 = 60;

/// One live session, as `nosh ls` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub session: String,
    pub target: String,
    pub age: String,
    pub status: String,
}

async fn sidecars(engine: &Engine) -> Result<Vec<ContainerSummary>, HostError> {
    let filters = HashMap::from([("label", vec![LABEL_SESSION])]);
    engine
        .docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| from_engine(&engine.endpoint, "list containers", &e))
}

fn label<'a>(c: &'a ContainerSummary, key: &str) -> &'a str {
    c.labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
        .unwrap_or("")
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// "45s", "3m", "2h", "4d".
pub fn age(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

pub fn rows(list: &[ContainerSummary], now: i64) -> Vec<Row> {
    list.iter()
        .map(|c| {
            let target_id = label(c, LABEL_TARGET);
            let name = label(c, LABEL_TARGET_NAME);
            let name = if name.is_empty() {
                short(target_id)
            } else {
                name
            };
            Row {
                session: short(c.id.as_deref().unwrap_or("")).to_string(),
                target: if label(c, LABEL_SESSION) == "replica" {
                    format!("{name} (replica)")
                } else {
                    name.to_string()
                },
                age: age(now - c.created.unwrap_or(now)),
                status: c.status.clone().unwrap_or_default(),
            }
        })
        .collect()
}

/// A table with columns as wide as their widest cell.
pub fn render(rows: &[Row]) -> String {
    let header = Row {
        session: "SESSION".into(),
        target: "TARGET".into(),
        age: "AGE".into(),
        status: "STATUS".into(),
    };
    let all: Vec<&Row> = std::iter::once(&header).chain(rows).collect();
    let w = |f: fn(&Row) -> &str| all.iter().map(|r| f(r).chars().count()).max().unwrap_or(0);
    let (ws, wt, wa) = (w(|r| &r.session), w(|r| &r.target), w(|r| &r.age));
    all.iter()
        .map(|r| {
            format!(
                "{:ws$}  {:wt$}  {:wa$}  {}\n",
                r.session, r.target, r.age, r.status
            )
        })
        .map(|line| line.trim_end().to_string() + "\n")
        .collect()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `nosh ls`: sidecars and replicas (helpers are part of a replica).
pub async fn ls(engine: &Engine) -> Result<String, HostError> {
    let list: Vec<ContainerSummary> = sidecars(engine)
        .await?
        .into_iter()
        .filter(|c| label(c, LABEL_SESSION) != "helper")
        .collect();
    Ok(render(&rows(&list, now())))
}

fn is_running(c: &ContainerSummary) -> bool {
    c.state.map(|s| s.to_string()) == Some("running".into())
}

/// Whether a helper or temporary image was made long enough ago that no
/// session can still be setting it up. Without the label: made by hand.
fn stale(labels: Option<&HashMap<String, String>>, now: i64) -> bool {
    labels
        .and_then(|l| l.get(LABEL_CREATED))
        .and_then(|t| t.parse::<i64>().ok())
        .is_none_or(|t| now - t >= GRACE_SECS)
}

/// `nosh gc`, in three passes:
/// 1. sidecars whose target is gone or stopped, and sidecars and replicas
///    that are not running themselves (created by a client that died before
///    starting them: auto-remove never applies to those), once past the
///    grace, since setting one up takes a moment;
/// 2. toolbox helpers (with their volume) of originals no running replica
///    is debugging;
/// 3. temporary replica images, likewise;
/// 4. toolbox images of other builds that no container uses.
///
/// Returns what it did.
pub async fn gc(engine: &Engine) -> Result<Vec<String>, HostError> {
    let mut done = Vec::new();
    let all = sidecars(engine).await?;
    let now = now();
    // 1.
    for c in all.iter().filter(|c| label(c, LABEL_SESSION) != "helper") {
        let id = c.id.clone().unwrap_or_default();
        let target = label(c, LABEL_TARGET);
        let replica = label(c, LABEL_SESSION) == "replica";
        let why = if !is_running(c) {
            // A young sidecar or replica may be between its create and its
            // start: only a stale one was left by a client that died.
            stale(c.labels.as_ref(), now).then(|| "not running".to_string())
        } else if replica {
            // A replica's original is not running by design.
            None
        } else {
            match engine.docker.inspect_container(target, None).await {
                Ok(t) if t.state.as_ref().and_then(|s| s.running).unwrap_or(false) => None,
                Ok(_) => Some(format!("target {} is not running", short(target))),
                Err(e) if status_of(&e) == Some(404) => {
                    Some(format!("target {} is gone", short(target)))
                }
                Err(e) => return Err(from_engine(&engine.endpoint, "inspect", &e)),
            }
        };
        if let Some(why) = why {
            remove(engine, &id).await;
            done.push(format!("removed {} ({why})", short(&id)));
        }
    }
    let debugged: HashSet<&str> = all
        .iter()
        .filter(|c| label(c, LABEL_SESSION) == "replica" && is_running(c))
        .map(|c| label(c, LABEL_TARGET))
        .collect();
    // 2.
    for c in all.iter().filter(|c| label(c, LABEL_SESSION) == "helper") {
        let target = label(c, LABEL_TARGET);
        if debugged.contains(target) || !stale(c.labels.as_ref(), now) {
            continue;
        }
        let id = c.id.clone().unwrap_or_default();
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match engine.docker.remove_container(&id, Some(options)).await {
            Ok(()) => done.push(format!(
                "removed toolbox helper {} (no replica of {} is running)",
                short(&id),
                short(target)
            )),
            Err(e) => done.push(format!(
                "could not remove toolbox helper {}: {e}",
                short(&id)
            )),
        }
    }
    // 3.
    for image in images_where(engine, "label", "io.nosh.session=replica-image").await? {
        let target = image
            .labels
            .get(LABEL_TARGET)
            .map(String::as_str)
            .unwrap_or("");
        if debugged.contains(target) || !stale(Some(&image.labels), now) {
            continue;
        }
        let id = image.id.trim_start_matches("sha256:").to_string();
        let options = RemoveImageOptionsBuilder::new().force(true).build();
        match engine.docker.remove_image(&id, Some(options), None).await {
            Ok(_) => done.push(format!(
                "removed replica image {} (no replica of {} is running)",
                short(&id),
                short(target)
            )),
            Err(e) => done.push(format!(
                "could not remove replica image {}: {e}",
                short(&id)
            )),
        }
    }
    // 4.
    done.extend(old_toolbox_images(engine).await?);
    Ok(done)
}

/// Whether a tag is one nosh gave an image it imported itself:
/// `nosh-toolbox:VERSION-<12 hex digits>`. A tag made by `make
/// toolbox-image` (`nosh-toolbox:VERSION`) is the user's and is kept.
fn imported_by_nosh(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix(&format!("{}:", super::image::REPO)) else {
        return false;
    };
    rest.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The images matching one engine filter (`label=...`, `reference=...`).
async fn images_where(
    engine: &Engine,
    filter: &str,
    value: &str,
) -> Result<Vec<bollard::models::ImageSummary>, HostError> {
    let filters = HashMap::from([(filter, vec![value])]);
    engine
        .docker
        .list_images(Some(
            ListImagesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|e| from_engine(&engine.endpoint, "list images", &e))
}

/// Toolbox images of other builds (one is imported per binary hash): untag
/// each one no container uses; the engine refuses those in use, and they
/// are left for a later gc.
async fn old_toolbox_images(engine: &Engine) -> Result<Vec<String>, HostError> {
    let current = super::image::SelfBinary::read()?.tag();
    let images = images_where(engine, "reference", super::image::REPO).await?;
    let mut done = Vec::new();
    for tag in images.iter().flat_map(|i| i.repo_tags.iter()) {
        if *tag == current || !imported_by_nosh(tag) {
            continue;
        }
        let options = RemoveImageOptionsBuilder::new().build();
        if engine
            .docker
            .remove_image(tag, Some(options), None)
            .await
            .is_ok()
        {
            done.push(format!("removed old toolbox image {tag}"));
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_nosh_imported_itself_are_old_toolbox_images() {
        assert!(imported_by_nosh("nosh-toolbox:0.1.0-1b69cb6000c0"));
        assert!(!imported_by_nosh("nosh-toolbox:0.1.0"));
        assert!(!imported_by_nosh("nosh-toolbox:latest"));
        assert!(!imported_by_nosh("other:0.1.0-1b69cb6000c0"));
    }

    #[test]
    fn ages_read_in_one_unit() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7300), "2h");
        assert_eq!(age(200_000), "2d");
        assert_eq!(age(-3), "0s");
    }

    #[test]
    fn leftovers_are_stale_after_the_grace_or_without_a_date() {
        let at = |t: &str| HashMap::from([(LABEL_CREATED.to_string(), t.to_string())]);
        assert!(!stale(Some(&at("1000")), 1030));
        assert!(stale(Some(&at("1000")), 1000 + GRACE_SECS));
        assert!(stale(Some(&HashMap::new()), 5));
        assert!(stale(None, 5));
    }

    #[test]
    fn the_table_aligns_columns_and_names_targets() {
        let c = ContainerSummary {
            id: Some("abcdef0123456789".into()),
            created: Some(100),
            status: Some("Up 2 minutes".into()),
            labels: Some(HashMap::from([
                (LABEL_TARGET.to_string(), "99999999999999".to_string()),
                (LABEL_TARGET_NAME.to_string(), "claims-api".to_string()),
            ])),
            ..Default::default()
        };
        let table = render(&rows(&[c], 220));
        assert_eq!(
            table,
            "SESSION       TARGET      AGE  STATUS\nabcdef012345  claims-api  2m   Up 2 minutes\n"
        );
    }
}
