//! `nosh ls` and `nosh gc`: the sidecars and replicas the engine knows
//! about, and what replica sessions leave (toolbox helpers, temporary
//! images), found by their `io.nosh.session` label.
//!
//! A label proves nothing: any image (and so any container made from it,
//! or a commit of one) can carry `io.nosh.session`. A container is nosh's
//! only when it also runs an image nosh made, checked by ID (a toolbox
//! image, or a replica image), with nosh's entrypoint; a replica image is
//! only ever untagged from `nosh-replica`, so a copy the user tagged stays.
//! Every label is escaped before it is printed.

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::models::ContainerSummary;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};

use crate::host::engine::Engine;
use crate::host::error::{HostError, from_engine, status_of};
use crate::host::sidecar::replica::REPO as REPLICA_REPO;
use crate::host::sidecar::session::remove;
use crate::host::sidecar::spec::{LABEL_CREATED, LABEL_SESSION, LABEL_TARGET, LABEL_TARGET_NAME};

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

/// The first 12 characters of an id (or of a label posing as one), escaped.
fn short(id: &str) -> String {
    let cut: String = id.chars().take(12).collect();
    crate::term::escape::field(cut.as_bytes()).into_owned()
}

/// The IDs of the images nosh made: the toolbox images it imported (and
/// the ones `make toolbox-image` builds) and its replica commits.
#[derive(Debug, Default)]
pub struct Made {
    pub toolbox: HashSet<String>,
    pub replica: HashSet<String>,
}

async fn made_images(engine: &Engine) -> Result<Made, HostError> {
    let ids =
        |images: Vec<bollard::models::ImageSummary>| images.into_iter().map(|i| i.id).collect();
    Ok(Made {
        toolbox: ids(images_where(engine, "reference", crate::host::sidecar::image::REPO).await?),
        replica: ids(images_where(engine, "reference", REPLICA_REPO).await?),
    })
}

/// Whether `c` is a container a nosh session made: its label says which
/// kind, and its image and command must agree. A replica of an image
/// target runs that image, whose ID is the target the label names.
pub fn is_nosh(c: &ContainerSummary, made: &Made) -> bool {
    let image = c.image_id.as_deref().unwrap_or("");
    let command = c.command.as_deref().unwrap_or("");
    match label(c, LABEL_SESSION) {
        "sidecar" => made.toolbox.contains(image) && command.starts_with("/nosh toolbox"),
        "helper" => made.toolbox.contains(image),
        // `doctor --run`: the image itself, nosh as its PID 1.
        crate::host::doctor::run::SESSION => {
            !image.is_empty()
                && image == label(c, LABEL_TARGET)
                && command.starts_with(&format!(
                    "{}/nosh watch",
                    crate::host::sidecar::image::BINARY_DIR
                ))
        }
        "replica" => {
            (made.replica.contains(image) || (!image.is_empty() && image == label(c, LABEL_TARGET)))
                && command.starts_with(&format!(
                    "{}/nosh toolbox",
                    crate::host::sidecar::image::BINARY_DIR
                ))
        }
        _ => false,
    }
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
                target_id.chars().take(12).collect()
            } else {
                name.to_string()
            };
            let name = crate::term::escape::field(name.as_bytes());
            Row {
                session: short(c.id.as_deref().unwrap_or("")),
                target: if label(c, LABEL_SESSION) == "replica" {
                    format!("{name} (replica)")
                } else {
                    name.into_owned()
                },
                age: age(now - c.created.unwrap_or(now)),
                status: crate::term::escape::field(c.status.as_deref().unwrap_or("").as_bytes())
                    .into_owned(),
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
    let made = made_images(engine).await?;
    let list: Vec<ContainerSummary> = sidecars(engine)
        .await?
        .into_iter()
        .filter(|c| label(c, LABEL_SESSION) != "helper" && is_nosh(c, &made))
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
    let made = made_images(engine).await?;
    let all: Vec<ContainerSummary> = sidecars(engine)
        .await?
        .into_iter()
        .filter(|c| is_nosh(c, &made))
        .collect();
    let now = now();
    // 1.
    for c in all.iter().filter(|c| label(c, LABEL_SESSION) != "helper") {
        let id = c.id.clone().unwrap_or_default();
        let target = label(c, LABEL_TARGET);
        // A replica's original, and the image of a `doctor --run`, are not
        // running by design.
        let replica = matches!(
            label(c, LABEL_SESSION),
            "replica" | crate::host::doctor::run::SESSION
        );
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
        .filter(|c| {
            matches!(
                label(c, LABEL_SESSION),
                "replica" | crate::host::doctor::run::SESSION
            ) && is_running(c)
        })
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
    // 3. Only the nosh-replica tag goes: an image the user also tagged
    // stays under the user's name.
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
        for tag in image.repo_tags.iter().filter(|t| is_replica_tag(t)) {
            let options = RemoveImageOptionsBuilder::new().force(true).build();
            match engine.docker.remove_image(tag, Some(options), None).await {
                Ok(_) => done.push(format!(
                    "removed replica image {} (no replica of {} is running)",
                    short(&id),
                    short(target)
                )),
                Err(e) => done.push(format!(
                    "could not remove replica image {}: {}",
                    short(&id),
                    crate::term::escape::field(e.to_string().as_bytes())
                )),
            }
        }
    }
    // 4.
    done.extend(old_toolbox_images(engine).await?);
    Ok(done)
}

/// Whether a tag is one nosh gave a replica commit: `nosh-replica:TAG`.
pub fn is_replica_tag(tag: &str) -> bool {
    tag.strip_prefix(REPLICA_REPO)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// Whether a tag is one nosh gave an image it imported itself:
/// `nosh-toolbox:VERSION-<12 hex digits>`. A tag made by `make
/// toolbox-image` (`nosh-toolbox:VERSION`) is the user's and is kept.
fn imported_by_nosh(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix(&format!("{}:", crate::host::sidecar::image::REPO)) else {
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
    let current = crate::host::sidecar::image::SelfBinary::read()?.tag();
    let images = images_where(engine, "reference", crate::host::sidecar::image::REPO).await?;
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

    fn container(session: &str, image: &str, command: &str) -> ContainerSummary {
        ContainerSummary {
            image_id: Some(image.into()),
            command: Some(command.into()),
            labels: Some(HashMap::from([
                (LABEL_SESSION.to_string(), session.to_string()),
                (LABEL_TARGET.to_string(), "sha256:img".to_string()),
            ])),
            ..Default::default()
        }
    }

    #[test]
    fn a_label_alone_does_not_make_a_container_nosh_s() {
        let made = Made {
            toolbox: HashSet::from(["sha256:tb".to_string()]),
            replica: HashSet::from(["sha256:rep".to_string()]),
        };
        assert!(is_nosh(
            &container("sidecar", "sha256:tb", "/nosh toolbox --pid 1"),
            &made
        ));
        assert!(!is_nosh(
            &container("sidecar", "sha256:evil", "/nosh toolbox --pid 1"),
            &made
        ));
        assert!(!is_nosh(
            &container("sidecar", "sha256:tb", "/bin/app"),
            &made
        ));
        assert!(is_nosh(
            &container("helper", "sha256:tb", "/nosh toolbox"),
            &made
        ));
        assert!(!is_nosh(&container("helper", "sha256:evil", ""), &made));
        let replica = "/.nosh/nosh toolbox --pid 1";
        assert!(is_nosh(&container("replica", "sha256:rep", replica), &made));
        // A replica of an image target runs that image.
        assert!(is_nosh(&container("replica", "sha256:img", replica), &made));
        assert!(!is_nosh(
            &container("replica", "sha256:evil", replica),
            &made
        ));
        let mut blank = container("replica", "", replica);
        blank
            .labels
            .as_mut()
            .unwrap()
            .insert(LABEL_TARGET.to_string(), String::new());
        assert!(!is_nosh(&blank, &made));
        assert!(!is_nosh(
            &container("other", "sha256:tb", "/nosh toolbox"),
            &made
        ));
    }

    #[test]
    fn labels_are_printed_escaped_and_cut_on_characters() {
        assert_eq!(short("ééééééééééééé"), "éééééééééééé");
        let mut c = container("sidecar", "sha256:tb", "/nosh toolbox");
        c.labels.as_mut().unwrap().insert(
            LABEL_TARGET_NAME.to_string(),
            "evil\x1b]0;pwned\x07\u{202e}".to_string(),
        );
        c.status = Some("Up\x1b[2J".into());
        let table = render(&rows(&[c], 0));
        assert!(table.contains("evil\\e]0;pwned\\x07\\u{202e}"), "{table}");
        assert!(table.contains("Up\\e[2J"), "{table}");
        assert!(!table.contains('\x1b'));
    }

    #[test]
    fn only_nosh_replica_tags_are_removed() {
        assert!(is_replica_tag("nosh-replica:0123456789ab-abcdef"));
        assert!(!is_replica_tag("mine:keep"));
        assert!(!is_replica_tag("nosh-replica-evil:x"));
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
