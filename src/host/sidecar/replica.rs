//! Replica mode: debugging what won't start.
//!
//! A stopped or crash-looping container has no namespaces to join, and an
//! image has none yet. So nosh starts a replica: a new container from the
//! same image (for a container, a temporary commit of it, so the files it
//! wrote are there) with the original's user, environment, working
//! directory, mounts (read-only unless `--rw`), network mode, sysctls,
//! read-only root flag and security options, whose process is the toolbox
//! shell, as its own PID 1, already unprivileged (`cap_drop ALL`,
//! no-new-privileges).
//!
//! The binary gets in without touching the image: a helper container is
//! created (never started) from the toolbox image with an anonymous volume
//! at `/.nosh`, which the engine fills from the image at create; the replica
//! mounts it read-only with `volumes_from`.
//!
//! Steps, and what undoes each:
//! 1. create the helper — removed with its volume at the end;
//! 2. meanwhile, commit the container to `nosh-replica:<id>-<random>` (an
//!    image target is used as it is) — removed at the end;
//! 3. create and run the replica as a session ([`session::run_container`]),
//!    auto-removed when the shell exits.
//!
//! The client removes the helper and the image itself when the session
//! ends, or fails half-way; if it is killed, the watchdog does.

use bollard::models::{
    ContainerConfig, ContainerCreateBody, HealthConfig, HostConfig, Mount, MountPoint, MountType,
};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};

use crate::host::engine::Engine;
use crate::host::error::{HostError, from_engine};
use crate::host::sidecar::image::BINARY_DIR;
use crate::host::sidecar::session::{self, Outcome, Step};
use crate::host::sidecar::spec::{self, Request, session_labels};
use crate::host::sidecar::watchdog::Watchdog;
use crate::host::target::Target;

/// Repository of the temporary commits.
pub const REPO: &str = "nosh-replica";

/// What one replica session made besides the replica, to be removed.
#[derive(Debug, Default)]
pub struct Made {
    pub helper: Option<String>,
    /// The commit's ID, and the `nosh-replica:TAG` it was given.
    pub image: Option<(String, String)>,
}

/// The helper: created from the toolbox image and never started; its
/// anonymous volume at `/.nosh` holds the binary.
pub fn helper_config(target: &Target, toolbox_image: &str) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(toolbox_image.to_string()),
        volumes: Some(vec![BINARY_DIR.to_string()]),
        labels: Some(session_labels(target, "helper")),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The replica's user: the original's, or what `--root`/`--user` ask for.
/// The engine sets it (the toolbox has no capability to change it); a
/// `--user UID` without a group gets the group the toolbox would choose.
pub fn replica_user(target: &Target, req: &Request) -> String {
    if req.root {
        "0:0".into()
    } else if let Some(user) = &req.user {
        if user.contains(':') {
            user.clone()
        } else {
            format!("{user}:{user}")
        }
    } else {
        target.info.user.clone()
    }
}

/// The original's mounts, re-created: binds as binds and volumes by name,
/// read-only unless `rw`; tmpfs mounts given with `--mount` as they were
/// (`--tmpfs` ones are in `HostConfig.Tmpfs`, copied whole). A bind whose
/// source is gone makes the create fail rather than be made on the host
/// (as `Binds` would do).
pub fn mounts(target: &Target, rw: bool) -> Vec<Mount> {
    let mut out: Vec<Mount> = target
        .mounts
        .iter()
        .filter_map(|m| remount(m, rw))
        .collect();
    out.extend(
        target
            .host_config
            .mounts
            .iter()
            .flatten()
            .filter(|m| m.typ == Some(MountType::TMPFS))
            .cloned(),
    );
    out
}

fn remount(m: &MountPoint, rw: bool) -> Option<Mount> {
    let (typ, source) = match m.typ.as_deref() {
        Some("bind") => (MountType::BIND, m.source.clone()?),
        Some("volume") => (MountType::VOLUME, m.name.clone()?),
        _ => return None,
    };
    Some(Mount {
        target: m.destination.clone(),
        source: Some(source),
        typ: Some(typ),
        // An originally read-only mount stays read-only even with --rw.
        read_only: Some(!(rw && m.rw.unwrap_or(true))),
        ..Default::default()
    })
}

/// The original's security options plus no-new-privileges.
fn security_opt(target: &Target) -> Vec<String> {
    let mut opts: Vec<String> = target
        .host_config
        .security_opt
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| !o.starts_with("no-new-privileges"))
        .collect();
    opts.push("no-new-privileges".into());
    opts
}

/// The replica's labels: nosh's own, and every label of the original (its
/// image's included) emptied. Compose, Traefik and other tools that act on
/// labels would otherwise take the replica for a live instance of the
/// original; an image's labels cannot be removed from a container made
/// from it, only overridden.
pub fn replica_labels(target: &Target) -> std::collections::HashMap<String, String> {
    let mut labels: std::collections::HashMap<String, String> = target
        .labels
        .keys()
        .map(|k| (k.clone(), String::new()))
        .collect();
    labels.extend(session_labels(target, "replica"));
    labels
}

/// The replica: the image (a commit of the original, or the image target),
/// the toolbox as its command, the original's settings, nothing more.
pub fn replica_config(
    target: &Target,
    image: &str,
    helper: &str,
    network_mode: Option<String>,
    req: &Request,
    rw: bool,
) -> ContainerCreateBody {
    let info = &target.info;
    let h = &target.host_config;
    // The original's environment, less what would pass for the host half's
    // word to the toolbox: an image may set `NOSH_TOOLBOX_ARGS` too. The
    // arguments and the target's configuration are always set here, so the
    // engine adds no value of the image's back for them.
    let mut env: Vec<String> = info
        .env
        .iter()
        .filter(|e| !crate::target::info::is_host_env(e))
        .cloned()
        .collect();
    env.extend(spec::sidecar_env(target, req, &spec::toolbox_args(req)));
    // The app reads the original's hostname (gethostname, $HOSTNAME); the
    // engine refuses one with another container's or the host's network.
    let own_uts = !network_mode
        .as_deref()
        .is_some_and(|m| m == "host" || m.starts_with("container:"));
    // The engine writes /etc/hosts and /etc/resolv.conf from the
    // container's settings, not into its commit: the replica resolves
    // names as the original does only with the original's entries and
    // servers (refused with another container's network, which supplies
    // its own files).
    let own_files = !network_mode
        .as_deref()
        .is_some_and(|m| m.starts_with("container:"));
    let listed = |v: &Option<Vec<String>>| v.clone().filter(|v| own_files && !v.is_empty());
    ContainerCreateBody {
        image: Some(image.to_string()),
        hostname: Some(info.hostname.clone()).filter(|h| own_uts && !h.is_empty()),
        entrypoint: Some(vec![format!("{BINARY_DIR}/nosh")]),
        // Explicit, so the image's CMD is not appended; the arguments are
        // in the environment.
        cmd: Some(vec!["toolbox".into()]),
        user: Some(replica_user(target, req)),
        env: Some(env),
        working_dir: Some(info.working_dir.clone()).filter(|w| !w.is_empty()),
        labels: Some(replica_labels(target)),
        // The image's health check would run the app's probe in the replica.
        healthcheck: Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(security_opt(target)),
            volumes_from: Some(vec![format!("{helper}:ro")]),
            mounts: Some(mounts(target, rw)),
            binds: spec::stream_binds(req),
            tmpfs: h.tmpfs.clone(),
            extra_hosts: listed(&h.extra_hosts),
            dns: listed(&h.dns),
            dns_search: listed(&h.dns_search),
            dns_options: listed(&h.dns_options),
            network_mode,
            sysctls: h.sysctls.clone(),
            readonly_rootfs: h.readonly_rootfs,
            ulimits: h.ulimits.clone(),
            // As confined as the original: same runtime, user and cgroup
            // namespaces, pids, CPU and memory limits.
            runtime: h.runtime.clone(),
            userns_mode: h.userns_mode.clone(),
            cgroupns_mode: h.cgroupns_mode,
            pids_limit: h.pids_limit.filter(|p| *p > 0),
            memory: h.memory.filter(|m| *m > 0),
            memory_swap: h.memory_swap.filter(|m| *m != 0),
            memory_reservation: h.memory_reservation.filter(|m| *m > 0),
            nano_cpus: h.nano_cpus.filter(|n| *n > 0),
            cpu_shares: h.cpu_shares.filter(|n| *n > 0),
            cpu_period: h.cpu_period.filter(|n| *n > 0),
            cpu_quota: h.cpu_quota.filter(|n| *n > 0),
            cpuset_cpus: h.cpuset_cpus.clone().filter(|s| !s.is_empty()),
            cpuset_mems: h.cpuset_mems.clone().filter(|s| !s.is_empty()),
            auto_remove: Some(true),
            log_config: spec::unlogged(),
            ..Default::default()
        }),
        ..spec::attached_io(req.tty)
    }
}

/// The original's network mode, unless it joins a container that is not
/// running: the engine would refuse that, so the replica gets none and
/// the user is told.
async fn network_mode(engine: &Engine, target: &Target) -> Option<String> {
    let mode = target.host_config.network_mode.clone()?;
    let Some(other) = mode.strip_prefix("container:") else {
        return Some(mode);
    };
    let running = engine
        .docker
        .inspect_container(other, None)
        .await
        .ok()
        .and_then(|c| c.state?.running)
        .unwrap_or(false);
    if running {
        Some(mode)
    } else {
        eprintln!(
            "nosh: the original shares the network of container {other}, which is not running; the replica has no network"
        );
        Some("none".into())
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// `<short id>-<6 hex>`: the original, and unique per session.
fn commit_tag(target: &Target) -> String {
    let id = target.info.id.trim_start_matches("sha256:");
    let random = spec::sidecar_name("");
    let suffix = random.trim_start_matches("nosh-");
    format!("{}-{suffix}", &id[..id.len().min(12)])
}

/// Runs a replica session to its end and removes everything it made, on
/// every path.
pub async fn run(
    engine: &Engine,
    target: &Target,
    toolbox_image: &str,
    req: &Request,
    rw: bool,
    watchdog: Option<&mut Watchdog>,
) -> Result<Outcome, HostError> {
    let mut made = Made::default();
    let result = run_made(engine, target, toolbox_image, req, rw, &mut made, watchdog).await;
    remove(engine, &made).await;
    result
}

async fn run_made(
    engine: &Engine,
    target: &Target,
    toolbox_image: &str,
    req: &Request,
    rw: bool,
    made: &mut Made,
    mut watchdog: Option<&mut Watchdog>,
) -> Result<Outcome, HostError> {
    let log = engine.log;
    let name = target.info.display_name().to_string();
    let failed = |step: &'static str, e: &bollard::errors::Error| match from_engine(
        &engine.endpoint,
        "replica",
        e,
    ) {
        HostError::Engine { reason, .. } => HostError::ReplicaFailed {
            step,
            target: name.clone(),
            reason,
        },
        other => other,
    };

    // 1. and 2. at once: both take a while (the engine copies the binary
    // into the volume; a commit diffs the container's files), and neither
    // needs the other. Both run to their end, so whatever the engine made
    // is known and removed, even when the other failed.
    let create_helper = engine.docker.create_container(
        None::<bollard::query_parameters::CreateContainerOptions>,
        helper_config(target, toolbox_image),
    );
    let commit = async {
        if target.is_image {
            return Ok(None);
        }
        let tag = commit_tag(target);
        let label = session_labels(target, "replica-image")
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let options = CommitContainerOptionsBuilder::new()
            .container(&target.info.id)
            .repo(REPO)
            .tag(&tag)
            .pause(false)
            .changes(&format!("LABEL {label}"))
            .build();
        let id = engine
            .docker
            .commit_container(options, ContainerConfig::default())
            .await?
            .id;
        log.say(|| format!("committed {} to {REPO}:{tag}", target.info.display_name()));
        Ok(Some((id, format!("{REPO}:{tag}"))))
    };
    let (helper, committed) = tokio::join!(create_helper, commit);
    if let Ok(created) = &helper {
        made.helper = Some(created.id.clone());
        if let Some(w) = watchdog.as_deref_mut() {
            w.helper(&created.id);
        }
        log.say(|| format!("created toolbox helper {}", short(&created.id)));
    }
    if let Ok(Some((id, tag))) = &committed {
        made.image = Some((id.clone(), tag.clone()));
        if let Some(w) = watchdog.as_deref_mut() {
            w.image(tag);
        }
    }
    let helper = helper
        .map_err(|e| failed("create the toolbox volume for", &e))?
        .id;
    let image = committed
        .map_err(|e| failed("commit", &e))?
        .map_or_else(|| target.info.id.clone(), |(id, _)| id);

    // 3. The replica.
    let network = network_mode(engine, target).await;
    let config = replica_config(target, &image, &helper, network, req, rw);
    let replica_name = format!("{}-replica", spec::sidecar_name(&name));
    let step_failed = |step: Step, e: &bollard::errors::Error| match step {
        Step::Create => failed("create", e),
        Step::Start => failed("start", e),
    };
    session::run_container(
        engine,
        &replica_name,
        config,
        req.tty,
        watchdog,
        &step_failed,
    )
    .await
}

/// Removes the helper with its volume, then the temporary image. Call it
/// once the replica is gone (both are in use until then).
pub async fn remove(engine: &Engine, made: &Made) {
    if let Some(id) = &made.helper {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        if let Err(e) = engine.docker.remove_container(id, Some(options)).await {
            engine.log.say(|| format!("remove helper {id}: {e}"));
        }
    }
    if let Some((id, tag)) = &made.image {
        // Only our tag, and only while it still names the image we made:
        // if the user tagged the commit too (to keep it), the engine just
        // untags ours and the image stays under the user's name.
        let ours = engine
            .docker
            .inspect_image(tag)
            .await
            .ok()
            .and_then(|i| i.id)
            .is_some_and(|found| found == *id);
        let options = RemoveImageOptionsBuilder::new().force(true).build();
        if !ours {
            engine
                .log
                .say(|| format!("{tag} no longer names {id}: left alone"));
        } else if let Err(e) = engine.docker.remove_image(tag, Some(options), None).await {
            engine.log.say(|| format!("remove image {tag}: {e}"));
        }
    }
    engine.log.say(|| "replica leftovers removed".into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::sidecar::spec::{LABEL_SESSION, LABEL_TARGET};
    use crate::target::info::TargetInfo;

    fn original() -> Target {
        let inspect: bollard::models::ContainerInspectResponse =
            serde_json::from_value(serde_json::json!({
                "Id": "0123456789abcdef0123",
                "Name": "/claims-api",
                "State": {"Status": "exited", "ExitCode": 1},
                "Config": {
                    "Image": "claims:1", "User": "65532", "WorkingDir": "/app",
                    "Entrypoint": ["/app/server"], "Env": ["PATH=/usr/bin", "MODE=prod"],
                    "Labels": {"traefik.enable": "true", "com.docker.compose.service": "claims"}
                },
                "HostConfig": {
                    "NetworkMode": "claims-net",
                    "ReadonlyRootfs": true,
                    "SecurityOpt": ["seccomp=unconfined", "no-new-privileges:true"],
                    "Sysctls": {"net.ipv4.ip_unprivileged_port_start": "1024"},
                    "Tmpfs": {"/tmp": "size=64m"},
                    "Mounts": [{"Type": "tmpfs", "Target": "/run"}],
                    "RestartPolicy": {"Name": "always"},
                    "Runtime": "runc", "PidsLimit": 64, "NanoCpus": 500000000,
                    "Memory": 67108864, "UsernsMode": "host", "CgroupnsMode": "private"
                },
                "Mounts": [
                    {"Type": "bind", "Source": "/srv/conf", "Destination": "/etc/claims", "RW": true},
                    {"Type": "volume", "Name": "claims-data", "Source": "/var/lib/docker/volumes/claims-data/_data", "Destination": "/data", "RW": true},
                    {"Type": "bind", "Source": "/srv/keys", "Destination": "/keys", "RW": false},
                    {"Type": "tmpfs", "Destination": "/run"}
                ]
            }))
            .unwrap();
        crate::host::target::from_inspect(&inspect)
    }

    fn config(req: &Request, rw: bool) -> ContainerCreateBody {
        let t = original();
        replica_config(
            &t,
            "sha256:c0ffee",
            "helper123",
            t.host_config.network_mode.clone(),
            req,
            rw,
        )
    }

    #[test]
    fn the_replica_runs_the_toolbox_as_the_originals_user_with_no_capabilities() {
        let c = config(&Request::default(), false);
        assert_eq!(c.image.as_deref(), Some("sha256:c0ffee"));
        assert_eq!(c.entrypoint.unwrap(), ["/.nosh/nosh"]);
        assert_eq!(c.cmd.unwrap(), ["toolbox"]);
        assert_eq!(c.user.as_deref(), Some("65532"));
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert_eq!(c.healthcheck.unwrap().test.unwrap(), ["NONE"]);
        let env = c.env.unwrap();
        assert_eq!(env[..2], ["PATH=/usr/bin", "MODE=prod"]);
        assert!(env[2].starts_with("NOSH_TARGET_INFO="), "{env:?}");
        assert_eq!(spec::handed_args(&env), ["--pid", "1"]);
        let h = c.host_config.unwrap();
        assert_eq!(h.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(
            h.security_opt.unwrap(),
            ["seccomp=unconfined", "no-new-privileges"]
        );
        assert_eq!(h.volumes_from.unwrap(), ["helper123:ro"]);
        assert_eq!(h.auto_remove, Some(true));
        assert_eq!(h.log_config.as_ref().unwrap().typ.as_deref(), Some("none"));
        assert_eq!(h.restart_policy, None);
        assert_eq!(h.network_mode.as_deref(), Some("claims-net"));
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.tmpfs.unwrap()["/tmp"], "size=64m");
        assert_eq!(
            h.sysctls.unwrap()["net.ipv4.ip_unprivileged_port_start"],
            "1024"
        );
        assert_eq!(h.pid_mode, None);
        let labels = c.labels.unwrap();
        assert_eq!(labels[LABEL_SESSION], "replica");
        assert_eq!(labels[LABEL_TARGET], "0123456789abcdef0123");
    }

    #[test]
    fn the_replica_is_as_confined_as_the_original_and_wears_none_of_its_labels() {
        let c = config(&Request::default(), false);
        let h = c.host_config.unwrap();
        assert_eq!(h.runtime.as_deref(), Some("runc"));
        assert_eq!(h.pids_limit, Some(64));
        assert_eq!(h.nano_cpus, Some(500_000_000));
        assert_eq!(h.memory, Some(64 << 20));
        assert_eq!(h.userns_mode.as_deref(), Some("host"));
        assert_eq!(
            h.cgroupns_mode.map(|m| m.to_string()).as_deref(),
            Some("private")
        );
        let labels = c.labels.unwrap();
        assert_eq!(labels["traefik.enable"], "");
        assert_eq!(labels["com.docker.compose.service"], "");
        assert_eq!(labels[LABEL_SESSION], "replica");
        assert!(c.networking_config.is_none());
    }

    #[test]
    fn mounts_come_back_read_only_unless_rw_and_never_rw_if_they_were_not() {
        let summary = |c: ContainerCreateBody| -> Vec<(String, String, bool)> {
            c.host_config
                .unwrap()
                .mounts
                .unwrap()
                .into_iter()
                .map(|m| {
                    (
                        m.typ.unwrap().to_string(),
                        m.target.unwrap(),
                        m.read_only.unwrap_or(false),
                    )
                })
                .collect()
        };
        assert_eq!(
            summary(config(&Request::default(), false)),
            [
                ("bind".into(), "/etc/claims".into(), true),
                ("volume".into(), "/data".into(), true),
                ("bind".into(), "/keys".into(), true),
                ("tmpfs".into(), "/run".into(), false),
            ]
        );
        assert_eq!(
            summary(config(&Request::default(), true)),
            [
                ("bind".into(), "/etc/claims".into(), false),
                ("volume".into(), "/data".into(), false),
                ("bind".into(), "/keys".into(), true),
                ("tmpfs".into(), "/run".into(), false),
            ]
        );
        let c = config(&Request::default(), false);
        let mounts = c.host_config.unwrap().mounts.unwrap();
        assert_eq!(mounts[1].source.as_deref(), Some("claims-data"));
    }

    #[test]
    fn root_and_user_are_set_by_the_engine_and_named_to_the_toolbox() {
        let root = config(
            &Request {
                root: true,
                ..Default::default()
            },
            false,
        );
        assert_eq!(root.user.as_deref(), Some("0:0"));
        assert_eq!(
            spec::handed_args(&root.env.unwrap()),
            ["--pid", "1", "--root"]
        );
        let user = config(
            &Request {
                user: Some("1000".into()),
                command: Some("id".into()),
                ..Default::default()
            },
            false,
        );
        assert_eq!(user.user.as_deref(), Some("1000:1000"));
        assert_eq!(user.cmd.unwrap(), ["toolbox"]);
        assert_eq!(
            spec::handed_args(&user.env.unwrap()),
            ["--pid", "1", "--user", "1000", "-c", "id"]
        );
    }

    #[test]
    fn a_replica_takes_no_word_for_the_toolbox_from_the_originals_environment() {
        let mut t = original();
        t.info.env.extend([
            r#"NOSH_TOOLBOX_ARGS=["--root", "-c", "run /evil"]"#.to_string(),
            "NOSH_TARGET_INFO={}".to_string(),
            "NOSH_STDOUT_TERMINAL=1".to_string(),
        ]);
        let c = replica_config(&t, "img", "helper", None, &Request::default(), false);
        let env = c.env.unwrap();
        assert_eq!(spec::handed_args(&env), ["--pid", "1"]);
        let ours: Vec<&String> = env.iter().filter(|e| e.starts_with("NOSH_")).collect();
        assert_eq!(ours.len(), 2, "{ours:?}");
        assert!(
            ours[0].starts_with("NOSH_TARGET_INFO={\"name\""),
            "{ours:?}"
        );
    }

    #[test]
    fn the_replica_resolves_names_with_the_originals_entries_and_servers() {
        let mut t = original();
        t.host_config.extra_hosts = Some(vec!["db.internal:10.1.2.3".into()]);
        t.host_config.dns = Some(vec!["10.0.0.53".into()]);
        t.host_config.dns_search = Some(vec!["corp.example".into()]);
        t.host_config.dns_options = Some(vec!["ndots:2".into()]);
        let with_network = |mode: &str| {
            replica_config(
                &t,
                "img",
                "helper",
                Some(mode.into()),
                &Request::default(),
                false,
            )
            .host_config
            .unwrap()
        };
        let own = with_network("claims-net");
        assert_eq!(own.extra_hosts.unwrap(), ["db.internal:10.1.2.3"]);
        assert_eq!(own.dns.unwrap(), ["10.0.0.53"]);
        assert_eq!(own.dns_search.unwrap(), ["corp.example"]);
        assert_eq!(own.dns_options.unwrap(), ["ndots:2"]);
        // Another container's network brings its files; the engine refuses
        // entries of the replica's own there.
        let joined = with_network("container:abc");
        assert_eq!(
            (
                joined.extra_hosts,
                joined.dns,
                joined.dns_search,
                joined.dns_options
            ),
            (None, None, None, None)
        );
    }

    #[test]
    fn the_helper_only_holds_the_binary_volume() {
        let t = Target {
            info: TargetInfo {
                id: "abc".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let h = helper_config(&t, "nosh-toolbox:x");
        assert_eq!(h.volumes.unwrap(), ["/.nosh"]);
        assert_eq!(h.labels.unwrap()[LABEL_SESSION], "helper");
        assert_eq!(h.cmd, None);
    }

    #[test]
    fn commit_tags_name_the_original_and_differ() {
        let t = original();
        let a = commit_tag(&t);
        assert!(a.starts_with("0123456789ab-"), "{a}");
        assert_eq!(a.len(), 12 + 1 + 6);
    }
}
