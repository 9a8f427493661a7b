//! Finding the target: by name, full id or unique id prefix, and deciding
//! whether a sidecar can join it.
//!
//! The engine resolves a name or prefix in one `inspect` call (the fast path,
//! one round trip). When it cannot, the container list is matched here so
//! that an ambiguous prefix can name its candidates and an unknown name gets
//! a plain "no such container".

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary};
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::engine::Engine;
use super::error::{HostError, from_engine, status_of};
use crate::target::TargetInfo;

/// The target as the host half needs it.
#[derive(Debug, Clone)]
pub struct Target {
    pub info: TargetInfo,
    /// `HostConfig.IpcMode`: the sidecar shares IPC only when it is "shareable".
    pub ipc_mode: String,
}

/// Inspects `name_or_id` and refuses anything a sidecar cannot join.
pub async fn resolve(engine: &Engine, name_or_id: &str) -> Result<Target, HostError> {
    let inspect = match engine.docker.inspect_container(name_or_id, None).await {
        Ok(found) => found,
        Err(e) if status_of(&e).is_some() => {
            engine
                .log
                .say(|| format!("inspect {name_or_id}: {e}; matching the container list"));
            let all = list_all(engine).await?;
            let id = match_one(name_or_id, &all)?;
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
    let target = from_inspect(&inspect);
    check_joinable(&target.info, inspect_paused(&inspect))?;
    Ok(target)
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

fn inspect_paused(inspect: &ContainerInspectResponse) -> bool {
    inspect
        .state
        .as_ref()
        .and_then(|s| s.paused)
        .unwrap_or(false)
}

/// The facts handed to the toolbox, from an inspect answer.
pub fn from_inspect(inspect: &ContainerInspectResponse) -> Target {
    let config = inspect.config.clone().unwrap_or_default();
    let state = inspect.state.clone().unwrap_or_default();
    let status = match state.status {
        Some(ContainerStateStatusEnum::EMPTY) | None => String::new(),
        Some(s) => s.to_string(),
    };
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
        env: config.env.unwrap_or_default(),
        exposed_ports: config.exposed_ports.unwrap_or_default(),
        restart_count: inspect.restart_count.unwrap_or(0),
        exit_code: state.exit_code.unwrap_or(0),
        state: status,
        error: state.error.unwrap_or_default(),
        replica: false,
        log_tail: Vec::new(),
    };
    Target {
        info,
        ipc_mode: inspect
            .host_config
            .as_ref()
            .and_then(|h| h.ipc_mode.clone())
            .unwrap_or_default(),
    }
}

/// A sidecar can join only a running container: a paused one would freeze
/// the toolbox on its first look at /proc, a stopped one has no namespaces.
pub fn check_joinable(info: &TargetInfo, paused: bool) -> Result<(), HostError> {
    let name = info.display_name().to_string();
    if paused || info.state == "paused" {
        return Err(HostError::Paused(name));
    }
    match info.state.as_str() {
        "running" => Ok(()),
        "restarting" => Err(HostError::Restarting {
            name,
            restart_count: info.restart_count,
            exit_code: info.exit_code,
        }),
        "exited" => Err(HostError::NotRunning {
            name,
            state: format!("exited with code {}", info.exit_code),
        }),
        "created" => Err(HostError::NotRunning {
            name,
            state: "created, never started".into(),
        }),
        other => Err(HostError::NotRunning {
            name,
            state: if other.is_empty() {
                "state unknown".into()
            } else {
                other.into()
            },
        }),
    }
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

    fn info(state: &str) -> TargetInfo {
        TargetInfo {
            name: "api".into(),
            state: state.into(),
            exit_code: 2,
            restart_count: 4,
            ..Default::default()
        }
    }

    #[test]
    fn only_running_containers_are_joinable() {
        assert!(check_joinable(&info("running"), false).is_ok());
        let paused = check_joinable(&info("running"), true).unwrap_err();
        assert_eq!(paused.to_string(), "container api is paused");
        let exited = check_joinable(&info("exited"), false).unwrap_err();
        assert_eq!(
            exited.to_string(),
            "container api is not running (exited with code 2); nosh attaches only to running containers"
        );
        let restarting = check_joinable(&info("restarting"), false).unwrap_err();
        assert!(
            restarting.to_string().contains("restart count 4"),
            "{restarting}"
        );
        let created = check_joinable(&info("created"), false).unwrap_err();
        assert!(created.to_string().contains("never started"), "{created}");
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
            "HostConfig": {"IpcMode": "private"}
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
    }
}
