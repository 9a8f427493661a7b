//! Finding the target: by name, full id or unique id prefix, or an image;
//! and deciding how to debug it: a sidecar beside a running container, or a
//! replica of anything that is not running.
//!
//! The engine resolves a name or prefix in one `inspect` call (the fast path,
//! one round trip). When it cannot, the container list is matched here so
//! that an ambiguous prefix can name its candidates; a name that is no
//! container is then looked up as an image.

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary, HostConfig, ImageInspect,
    MountPoint, RestartPolicyNameEnum,
};
use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::host::engine::Engine;
use crate::host::error::{HostError, from_engine, status_of};
use crate::target::info::TargetInfo;

/// The target as the host half needs it.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub info: TargetInfo,
    /// `HostConfig.IpcMode`: the sidecar shares IPC only when it is "shareable".
    pub ipc_mode: String,
    /// True for an image rather than a container.
    pub is_image: bool,
    /// `State.Paused`.
    pub paused: bool,
    /// The container's `HostConfig`, which a replica copies (empty for an image).
    pub host_config: HostConfig,
    /// The container's `Mounts`, which a replica re-creates (empty for an image).
    pub mounts: Vec<MountPoint>,
    /// `Config.Labels` (the image's included), which a replica must not
    /// present as its own.
    pub labels: std::collections::HashMap<String, String>,
    /// `State.Pid`: the app's PID in the host's PID namespace (0 if none).
    pub host_pid: i64,
    /// `State.StartedAt` and `State.FinishedAt` (RFC 3339; empty for an
    /// image): the start names the run a sidecar joins.
    pub started_at: String,
    pub finished_at: String,
    /// True when the run found running has ended since, or is about to be
    /// replaced (see [`crate::host::sidecar::settle`]): a sidecar would join a dying
    /// process, so a replica is used.
    pub run_ended: bool,
}

/// How a target is debugged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A sidecar joins the running container.
    Sidecar,
    /// A new container from the same image (or a commit of the container)
    /// runs the shell in place of the app.
    Replica,
}

/// Inspects `name_or_id`: a container, else an image of that name. With
/// `as_image`, only an image.
pub async fn resolve(
    engine: &Engine,
    name_or_id: &str,
    as_image: bool,
) -> Result<Target, HostError> {
    if as_image {
        return resolve_image(engine, name_or_id)
            .await?
            .ok_or_else(|| HostError::NoSuchImage(name_or_id.into()));
    }
    let inspect = match engine.docker.inspect_container(name_or_id, None).await {
        Ok(found) => found,
        Err(e) if status_of(&e).is_some() => {
            engine
                .log
                .say(|| format!("inspect {name_or_id}: {e}; matching the container list"));
            let all = list_all(engine).await?;
            let id = match match_one(name_or_id, &all) {
                Ok(id) => id,
                Err(HostError::NoSuchContainer(_)) => {
                    return resolve_image(engine, name_or_id)
                        .await?
                        .ok_or_else(|| HostError::NoSuchContainer(name_or_id.into()));
                }
                Err(e) => return Err(e),
            };
            engine
                .docker
                .inspect_container(&id, None)
                .await
                .map_err(|e| match status_of(&e) {
                    Some(404) => HostError::NoSuchContainer(name_or_id.into()),
                    _ => from_engine(&engine.endpoint, "inspect", &e),
                })?
        }
        Err(e) => return Err(from_engine(&engine.endpoint, "inspect", &e)),
    };
    engine.log.say(|| format!("inspected {name_or_id}"));
    Ok(from_inspect(&inspect))
}

/// The image `reference`, if the engine has it.
async fn resolve_image(engine: &Engine, reference: &str) -> Result<Option<Target>, HostError> {
    match engine.docker.inspect_image(reference).await {
        Ok(image) => {
            engine.log.say(|| format!("inspected image {reference}"));
            Ok(Some(from_image(reference, &image)))
        }
        Err(e) if matches!(status_of(&e), Some(404) | Some(400)) => Ok(None),
        Err(e) => Err(from_engine(&engine.endpoint, "inspect image", &e)),
    }
}

/// The facts handed to the toolbox, from an image's configuration.
pub fn from_image(reference: &str, image: &ImageInspect) -> Target {
    let config = image.config.clone().unwrap_or_default();
    let info = TargetInfo {
        name: reference.to_string(),
        id: image.id.clone().unwrap_or_default(),
        image: reference.to_string(),
        entrypoint: config.entrypoint,
        cmd: config.cmd,
        user: config.user.unwrap_or_default(),
        working_dir: config.working_dir.unwrap_or_default(),
        env: config.env.clone().unwrap_or_default(),
        exposed_ports: config.exposed_ports.clone().unwrap_or_default(),
        healthcheck: crate::target::info::bounded_healthcheck(
            config.healthcheck.clone().and_then(|h| h.test),
        ),
        state: "image".into(),
        replica: true,
        ..Default::default()
    };
    Target {
        info,
        is_image: true,
        labels: config.labels.unwrap_or_default(),
        ..Default::default()
    }
}

async fn list_all(engine: &Engine) -> Result<Vec<ContainerSummary>, HostError> {
    engine
        .docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
        .await
        .map_err(|e| from_engine(&engine.endpoint, "list containers", &e))
}

/// Docker's order: exact id, exact name, then a unique id prefix.
pub fn match_one(wanted: &str, all: &[ContainerSummary]) -> Result<String, HostError> {
    let id_of = |c: &ContainerSummary| c.id.clone().unwrap_or_default();
    let names_of = |c: &ContainerSummary| -> Vec<String> {
        c.names
            .iter()
            .flatten()
            .map(|n| n.trim_start_matches('/').to_string())
            .collect()
    };
    if let Some(c) = all.iter().find(|c| id_of(c) == wanted) {
        return Ok(id_of(c));
    }
    let name = wanted.trim_start_matches('/');
    if let Some(c) = all.iter().find(|c| names_of(c).iter().any(|n| n == name)) {
        return Ok(id_of(c));
    }
    let is_hex = !wanted.is_empty() && wanted.bytes().all(|b| b.is_ascii_hexdigit());
    let matches: Vec<&ContainerSummary> = if is_hex {
        let lower = wanted.to_ascii_lowercase();
        all.iter()
            .filter(|c| id_of(c).starts_with(&lower))
            .collect()
    } else {
        Vec::new()
    };
    match matches.as_slice() {
        [] => Err(HostError::NoSuchContainer(wanted.into())),
        [one] => Ok(id_of(one)),
        many => Err(HostError::AmbiguousPrefix {
            prefix: wanted.into(),
            candidates: many
                .iter()
                .map(|c| {
                    let id = id_of(c);
                    let short = &id[..id.len().min(12)];
                    match names_of(c).first() {
                        Some(n) => format!("{short} ({n})"),
                        None => short.to_string(),
                    }
                })
                .collect(),
        }),
    }
}

/// The facts handed to the toolbox, from an inspect answer.
pub fn from_inspect(inspect: &ContainerInspectResponse) -> Target {
    let config = inspect.config.clone().unwrap_or_default();
    let state = inspect.state.clone().unwrap_or_default();
    let status = match state.status {
        Some(ContainerStateStatusEnum::EMPTY) | None => String::new(),
        Some(s) => s.to_string(),
    };
    let health = state.health.clone();
    let last_probe = health
        .as_ref()
        .and_then(|h| h.log.as_ref())
        .and_then(|l| l.last().cloned());
    let info = TargetInfo {
        name: inspect
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        id: inspect.id.clone().unwrap_or_default(),
        image: config.image.unwrap_or_default(),
        entrypoint: config.entrypoint,
        cmd: config.cmd,
        user: config.user.unwrap_or_default(),
        working_dir: config.working_dir.unwrap_or_default(),
        env: config.env.clone().unwrap_or_default(),
        exposed_ports: config.exposed_ports.clone().unwrap_or_default(),
        restart_count: inspect.restart_count.unwrap_or(0),
        exit_code: state.exit_code.unwrap_or(0),
        exit_code_source: exit_code_source(&status, state.exit_code.unwrap_or(0)).into(),
        oom_killed: state.oom_killed.unwrap_or(false),
        restart_policy: restart_policy(inspect.host_config.as_ref()),
        hostname: config.hostname.clone().unwrap_or_default(),
        tty: config.tty.unwrap_or(false),
        state: status,
        error: state.error.unwrap_or_default(),
        replica: false,
        log_tail: Vec::new(),
        changes: Vec::new(),
        cut: Vec::new(),
        healthcheck: crate::target::info::bounded_healthcheck(
            config.healthcheck.and_then(|h| h.test),
        ),
        health_status: health
            .as_ref()
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        health_exit_code: last_probe.as_ref().and_then(|p| p.exit_code),
        health_output: last_probe
            .and_then(|p| p.output)
            .map(|o| crate::target::info::truncate(&o, crate::target::info::MAX_HEALTH_OUTPUT))
            .unwrap_or_default(),
    };
    let host_config = inspect.host_config.clone().unwrap_or_default();
    Target {
        info,
        ipc_mode: host_config.ipc_mode.clone().unwrap_or_default(),
        is_image: false,
        paused: state.paused.unwrap_or(false),
        host_config,
        mounts: inspect.mounts.clone().unwrap_or_default(),
        labels: config.labels.unwrap_or_default(),
        host_pid: state.pid.unwrap_or(0),
        started_at: state.started_at.unwrap_or_default(),
        finished_at: state.finished_at.unwrap_or_default(),
        run_ended: false,
    }
}

/// Whether `State.ExitCode` tells how the last run ended: not while a run
/// is going on (the engine resets it to 0 at every start), nor for a
/// container created and never started.
fn exit_code_source(status: &str, exit_code: i64) -> &'static str {
    match status {
        "running" | "paused" | "" => "",
        "created" if exit_code == 0 => "",
        _ => "state",
    }
}

/// `HostConfig.RestartPolicy` as `docker run --restart` spells it; empty
/// for none.
fn restart_policy(host_config: Option<&HostConfig>) -> String {
    let Some(policy) = host_config.and_then(|h| h.restart_policy.as_ref()) else {
        return String::new();
    };
    let name = match policy.name {
        Some(RestartPolicyNameEnum::EMPTY | RestartPolicyNameEnum::NO) | None => {
            return String::new();
        }
        Some(name) => name.to_string(),
    };
    match policy.maximum_retry_count {
        Some(n) if n > 0 && name == "on-failure" => format!("{name}:{n}"),
        _ => name,
    }
}

/// A sidecar joins only a running container (a stopped one has no
/// namespaces); anything else, or any container with `--replica`, gets a
/// replica. A paused container is refused either way: a sidecar would
/// freeze on its first look at /proc, and the user most likely wants the
/// paused process itself.
pub fn mode(target: &Target, force_replica: bool) -> Result<Mode, HostError> {
    let info = &target.info;
    if target.is_image {
        return Ok(Mode::Replica);
    }
    if target.paused || info.state == "paused" {
        return Err(HostError::Paused(info.display_name().to_string()));
    }
    if info.state == "running" && !force_replica && !target.run_ended {
        Ok(Mode::Sidecar)
    } else {
        Ok(Mode::Replica)
    }
}

/// One line for a target that could trace the toolbox in the milliseconds
/// before it drops its capabilities (it holds CAP_SYS_PTRACE in the same
/// user namespace, or is privileged, or holds CAP_SYS_ADMIN, which reaches as
/// far): the session still goes on, since such targets need debugging too.
pub fn ptrace_warning(target: &Target) -> Option<String> {
    let name = target.info.display_name();
    if target.host_config.privileged == Some(true) {
        return Some(format!(
            "warning: {name} is privileged: its processes could take over the toolbox before it drops its capabilities"
        ));
    }
    let strong: Vec<&str> = target
        .host_config
        .cap_add
        .iter()
        .flatten()
        .filter_map(|cap| {
            let cap = cap.to_ascii_uppercase();
            let cap = cap.strip_prefix("CAP_").unwrap_or(&cap).to_string();
            match cap.as_str() {
                "ALL" => Some("ALL"),
                "SYS_PTRACE" => Some("CAP_SYS_PTRACE"),
                "SYS_ADMIN" => Some("CAP_SYS_ADMIN"),
                _ => None,
            }
        })
        .collect();
    let held = if strong.contains(&"ALL") {
        "every capability".to_string()
    } else if strong.is_empty() {
        return None;
    } else {
        strong.join(" and ")
    };
    Some(format!(
        "warning: {name} holds {held}: its processes could take over the toolbox before it drops its capabilities"
    ))
}

/// The last lines the container logged, for `doctor`: the app's own error
/// messages ("Permission denied: '/var/log/x'") are the best evidence of
/// what it tries to write. Capped so the toolbox's argument stays small;
/// a failure here only means less evidence.
pub async fn log_tail(engine: &Engine, id: &str) -> Vec<String> {
    use futures_util::StreamExt;
    let options = bollard::query_parameters::LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail("40")
        .build();
    let mut stream = engine.docker.logs(id, Some(options));
    let mut text = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        if text.len() > 8192 {
            break;
        }
    }
    text.lines()
        .map(|l| l.chars().take(400).collect())
        .collect()
}

/// What changed in the container's own filesystem (`docker diff`), for
/// `doctor`: `A /path` added, `C /path` changed, `D /path` deleted, at most
/// 256 entries of 512 bytes. A failure here only means less evidence.
pub async fn changes(engine: &Engine, id: &str) -> Vec<String> {
    let listed = engine
        .docker
        .container_changes(id)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    listed
        .into_iter()
        .take(256)
        .map(|c| {
            let kind = match c.kind {
                bollard::models::ChangeType::_0 => "C",
                bollard::models::ChangeType::_1 => "A",
                bollard::models::ChangeType::_2 => "D",
            };
            format!("{kind} {}", crate::target::info::truncate(&c.path, 512))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, name: &str) -> ContainerSummary {
        ContainerSummary {
            id: Some(id.into()),
            names: Some(vec![format!("/{name}")]),
            ..Default::default()
        }
    }

    fn list() -> Vec<ContainerSummary> {
        vec![
            summary("abc111", "web"),
            summary("abc222", "db"),
            summary("f00000", "abc"),
        ]
    }

    #[test]
    fn a_name_wins_over_an_id_prefix() {
        assert_eq!(match_one("abc", &list()).unwrap(), "f00000");
        assert_eq!(match_one("/web", &list()).unwrap(), "abc111");
    }

    #[test]
    fn a_unique_prefix_finds_its_container() {
        assert_eq!(match_one("abc2", &list()).unwrap(), "abc222");
        assert_eq!(match_one("ABC1", &list()).unwrap(), "abc111");
    }

    #[test]
    fn an_ambiguous_prefix_names_every_candidate() {
        let e = match_one("ab", &list()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "container id prefix 'ab' is ambiguous: it matches abc111 (web), abc222 (db)"
        );
    }

    #[test]
    fn an_unknown_name_is_no_such_container() {
        let e = match_one("nope", &list()).unwrap_err();
        assert_eq!(e.to_string(), "no such container: nope");
        assert!(e.hint().unwrap().contains("docker ps"));
    }

    fn target(state: &str, paused: bool) -> Target {
        Target {
            info: TargetInfo {
                name: "api".into(),
                state: state.into(),
                ..Default::default()
            },
            paused,
            ..Default::default()
        }
    }

    #[test]
    fn running_containers_get_a_sidecar_and_the_rest_a_replica() {
        assert_eq!(
            mode(&target("running", false), false).unwrap(),
            Mode::Sidecar
        );
        assert_eq!(
            mode(&target("running", false), true).unwrap(),
            Mode::Replica
        );
        for state in ["exited", "created", "restarting", "dead"] {
            assert_eq!(mode(&target(state, false), false).unwrap(), Mode::Replica);
        }
        let image = Target {
            is_image: true,
            ..target("image", false)
        };
        assert_eq!(mode(&image, false).unwrap(), Mode::Replica);
        let paused = mode(&target("running", true), true).unwrap_err();
        assert_eq!(paused.to_string(), "container api is paused");
    }

    #[test]
    fn targets_that_could_trace_the_toolbox_are_named_in_one_line() {
        let with = |privileged: bool, caps: &[&str]| Target {
            host_config: HostConfig {
                privileged: Some(privileged),
                cap_add: Some(caps.iter().map(|c| c.to_string()).collect()),
                ..Default::default()
            },
            ..target("running", false)
        };
        assert_eq!(ptrace_warning(&with(false, &["NET_ADMIN", "CHOWN"])), None);
        assert_eq!(ptrace_warning(&target("running", false)), None);
        let w = ptrace_warning(&with(true, &[])).unwrap();
        assert!(w.starts_with("warning: api is privileged: "), "{w}");
        let w = ptrace_warning(&with(false, &["sys_ptrace"])).unwrap();
        assert!(w.contains("api holds CAP_SYS_PTRACE:"), "{w}");
        let w = ptrace_warning(&with(false, &["CAP_SYS_ADMIN", "SYS_PTRACE"])).unwrap();
        assert!(w.contains("holds CAP_SYS_ADMIN and CAP_SYS_PTRACE:"), "{w}");
        let w = ptrace_warning(&with(false, &["all"])).unwrap();
        assert!(w.contains("holds every capability:"), "{w}");
        assert!(!w.contains('\n'));
    }

    #[test]
    fn an_image_fills_the_target_info_from_its_config() {
        let image: ImageInspect = serde_json::from_value(serde_json::json!({
            "Id": "sha256:0123",
            "Config": {
                "User": "65532:65532", "WorkingDir": "/app",
                "Cmd": ["sh", "-c", "python3 /app/app.py"],
                "Env": ["PATH=/usr/bin"], "ExposedPorts": {"8080/tcp": {}}
            }
        }))
        .unwrap();
        let t = from_image("shell-form:1", &image);
        assert!(t.is_image && t.info.replica);
        assert_eq!(t.info.name, "shell-form:1");
        assert_eq!(t.info.id, "sha256:0123");
        assert_eq!(t.info.state, "image");
        assert_eq!(t.info.user, "65532:65532");
        assert_eq!(t.info.exposed_ports, ["8080/tcp"]);
        assert_eq!(t.info.cmd.unwrap()[0], "sh");
    }

    #[test]
    fn inspect_fills_the_target_info() {
        let inspect: ContainerInspectResponse = serde_json::from_value(serde_json::json!({
            "Id": "0123456789abcdef",
            "Name": "/claims-api",
            "RestartCount": 1,
            "State": {"Status": "running", "Running": true, "Paused": false, "ExitCode": 0, "Error": ""},
            "Config": {
                "Image": "claims:1.2", "User": "65532", "WorkingDir": "/app",
                "Entrypoint": ["/app/server"], "Cmd": ["--port", "8443"],
                "Env": ["PATH=/usr/bin"], "ExposedPorts": {"8443/tcp": {}}
            },
            "HostConfig": {"IpcMode": "private", "ReadonlyRootfs": true},
            "Mounts": [{"Type": "bind", "Source": "/srv", "Destination": "/data", "RW": true}]
        }))
        .unwrap();
        let t = from_inspect(&inspect);
        assert_eq!(t.info.name, "claims-api");
        assert_eq!(t.info.user, "65532");
        assert_eq!(t.info.state, "running");
        assert_eq!(t.info.exposed_ports, ["8443/tcp"]);
        assert_eq!(
            t.info.entrypoint.as_deref(),
            Some(&["/app/server".to_string()][..])
        );
        assert_eq!(t.ipc_mode, "private");
        assert_eq!(t.info.restart_count, 1);
        assert_eq!(t.host_config.readonly_rootfs, Some(true));
        assert_eq!(t.mounts[0].destination.as_deref(), Some("/data"));
    }
}
