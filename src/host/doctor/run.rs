//! `nosh doctor IMAGE --run[=DURATION]`: start the image as production
//! would, watch the start, judge what was seen, remove everything.
//!
//! The container is the image with its own user, environment, working
//! directory and command, plus the `docker run` options given; with
//! `--prod-like` also what hardened production adds: a read-only root, every
//! capability dropped, no-new-privileges, and
//! `net.ipv4.ip_unprivileged_port_start=1024` (Docker sets 0). Its PID 1 is
//! not the app but this binary (`nosh watch`, see
//! [`crate::toolbox::watch`]), which starts the app as its traced child:
//! that is the only way to see the first system calls of an app that dies
//! at once. The binary comes in as a replica's does, through the volume of
//! a toolbox helper that is never started: nothing is added to the image.
//!
//! Steps, and what undoes each:
//! 1. inspect the image (nothing is pulled) and import the toolbox image;
//! 2. create the helper ‒ removed with its volume once the container is
//!    gone (the watchdog does it if this client is killed);
//! 3. run the container, reading its report (auto-removed; waited for
//!    until removed);
//! 4. named volumes of `-v` that did not exist before ‒ removed.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig, PortBinding};

use crate::cli::{DoctorArgs, RunOptions};
use crate::host::doctor::capture::{self, Tracker};
use crate::host::engine::Engine;
use crate::host::engine::wire::Until;
use crate::host::error::HostError;
use crate::host::sidecar::image::BINARY_DIR;
use crate::host::sidecar::session::Step;
use crate::host::sidecar::spec::session_labels;
use crate::host::target::Target;
use crate::report::{Document, Finding};
use crate::target::info::TARGET_INFO_ENV;

/// The sysctl Kubernetes and host networking keep at 1024 and Docker sets
/// to 0 in every container.
const PORT_START_SYSCTL: &str = "net.ipv4.ip_unprivileged_port_start";
/// Session label of the watched container (`nosh gc` knows it).
pub const SESSION: &str = "doctor-run";

/// The container's settings, from the image and the options.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// The app's command: entrypoint and arguments.
    pub argv: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub user: String,
    /// The options' environment (the engine adds the image's).
    pub env: Vec<String>,
    /// The image's environment with the options' applied, for doctor.
    pub merged_env: Vec<String>,
    /// Ports the app should listen on: the image's EXPOSE and the ones
    /// published.
    pub ports: Vec<String>,
    pub port_bindings: HashMap<String, Option<Vec<PortBinding>>>,
    pub tmpfs: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    /// Named volumes of `-v`: created by the engine if missing.
    pub named_volumes: Vec<String>,
    /// `--security-opt`, a seccomp profile's file read in.
    pub security_opt: Vec<String>,
}

/// `--security-opt` as the engine takes it: the docker CLI sends a seccomp
/// profile's content, not its file name.
fn security_options(opts: &RunOptions) -> Result<Vec<String>, HostError> {
    opts.security_opt
        .iter()
        .map(|o| match o.split_once('=') {
            Some(("seccomp", file))
                if file != "unconfined" && !file.trim_start().starts_with('{') =>
            {
                std::fs::read_to_string(file)
                    .map(|profile| format!("seccomp={profile}"))
                    .map_err(|e| {
                        HostError::BadRunOption(format!(
                            "--security-opt {o}: cannot read the seccomp profile: {e}"
                        ))
                    })
            }
            _ => Ok(o.clone()),
        })
        .collect()
}

/// `-e KEY=VALUE`, `-e KEY` (this process's value, or nothing, as docker),
/// and `--env-file` lines, in that order.
fn environment(opts: &RunOptions) -> Result<Vec<String>, HostError> {
    let mut out = Vec::new();
    let mut take = |item: &str| {
        let item = item.trim_end_matches(['\r', '\n']);
        if item.is_empty() {
            return;
        }
        if item.contains('=') {
            out.push(item.to_string());
        } else if let Ok(value) = std::env::var(item) {
            out.push(format!("{item}={value}"));
        }
    };
    for file in &opts.env_files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            HostError::BadRunOption(format!("cannot read --env-file {}: {e}", file.display()))
        })?;
        for line in text.lines() {
            if !line.trim_start().starts_with('#') {
                take(line.trim_start());
            }
        }
    }
    for item in &opts.env {
        take(item);
    }
    Ok(out)
}

/// `[IP:][HOST:]CONTAINER[/PROTO]` as the engine's port map entry.
fn publish(spec: &str) -> Result<(String, PortBinding), HostError> {
    let bad = || {
        HostError::BadRunOption(format!(
            "-p {spec}: give [IP:][HOST:]CONTAINER[/PROTO], e.g. 8080:80 or 127.0.0.1:8080:80/tcp (no ranges)"
        ))
    };
    let (addr, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    // An IPv6 address comes in brackets.
    let (ip, rest) = match addr.strip_prefix('[') {
        Some(v6) => {
            let (ip, rest) = v6.split_once("]:").ok_or_else(bad)?;
            (Some(ip.to_string()), rest)
        }
        None => (None, addr),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (ip, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (None, [h, c]) => (None, Some(*h), *c),
        (None, [i, h, c]) => (Some(i.to_string()), Some(*h), *c),
        (Some(i), [h, c]) => (Some(i), Some(*h), *c),
        _ => return Err(bad()),
    };
    let port = |p: &str| p.parse::<u16>().ok().filter(|n| *n > 0);
    let container = port(container).ok_or_else(bad)?;
    let host = match host {
        Some("") | None => None,
        Some(h) => Some(port(h).ok_or_else(bad)?.to_string()),
    };
    Ok((
        format!("{container}/{proto}"),
        PortBinding {
            host_ip: ip.filter(|i| !i.is_empty()),
            host_port: host,
        },
    ))
}

/// Builds the plan from the image's configuration and the options.
pub fn plan(target: &Target, args: &DoctorArgs) -> Result<Plan, HostError> {
    let opts = &args.docker_run;
    let info = &target.info;
    // docker run: --entrypoint replaces the image's, and clears its CMD.
    let entrypoint = match &opts.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => info.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = if !args.command.is_empty() {
        args.command.clone()
    } else if opts.entrypoint.is_some() {
        Vec::new()
    } else {
        info.cmd.clone().unwrap_or_default()
    };
    let env = environment(opts)?;
    let mut merged_env = info.env.clone();
    for e in &env {
        let key = e.split('=').next().unwrap_or_default();
        merged_env.retain(|m| m.split('=').next() != Some(key));
        merged_env.push(e.clone());
    }
    let mut ports = info.exposed_ports.clone();
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for spec in &opts.publish {
        let (port, binding) = publish(spec)?;
        if !ports.contains(&port) {
            ports.push(port.clone());
        }
        port_bindings
            .entry(port)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    let mut tmpfs = HashMap::new();
    for t in &opts.tmpfs {
        let (dest, options) = t.split_once(':').unwrap_or((t.as_str(), ""));
        if !dest.starts_with('/') {
            return Err(HostError::BadRunOption(format!(
                "--tmpfs {t}: the destination must be an absolute path"
            )));
        }
        tmpfs.insert(dest.to_string(), options.to_string());
    }
    let mut labels = HashMap::new();
    for l in &opts.labels {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        let ours = [
            crate::host::sidecar::spec::LABEL_SESSION,
            crate::host::sidecar::spec::LABEL_TARGET,
            crate::host::sidecar::spec::LABEL_TARGET_NAME,
            crate::host::sidecar::spec::LABEL_VERSION,
            crate::host::sidecar::spec::LABEL_CREATED,
            capture::LABEL_RUN,
        ];
        if k.is_empty() || ours.contains(&k) {
            return Err(HostError::BadRunOption(format!(
                "--label {l}: give KEY=VALUE with a key that is not one of nosh's own ({})",
                ours.join(", ")
            )));
        }
        labels.insert(k.to_string(), v.to_string());
    }
    let mut named_volumes = Vec::new();
    for v in &opts.volumes {
        let parts: Vec<&str> = v.split(':').collect();
        match parts.as_slice() {
            [src, dest, ..] if dest.starts_with('/') && !src.is_empty() => {
                if !src.starts_with('/') && !src.starts_with('.') {
                    named_volumes.push(src.to_string());
                }
            }
            [dest] if dest.starts_with('/') => {}
            _ => {
                return Err(HostError::BadRunOption(format!(
                    "-v {v}: give SOURCE:DEST[:OPTIONS] with an absolute DEST"
                )));
            }
        }
    }
    Ok(Plan {
        argv: [entrypoint.clone(), cmd.clone()].concat(),
        entrypoint,
        cmd,
        user: opts.user.clone().unwrap_or_else(|| info.user.clone()),
        env,
        merged_env,
        ports,
        port_bindings,
        tmpfs,
        labels,
        named_volumes,
        security_opt: security_options(opts)?,
    })
}

/// The watched container's configuration.
pub fn config(
    target: &Target,
    plan: &Plan,
    helper: &str,
    args: &DoctorArgs,
) -> ContainerCreateBody {
    let mut info = target.info.clone();
    info.entrypoint = Some(plan.entrypoint.clone());
    info.cmd = Some(plan.cmd.clone());
    info.user = plan.user.clone();
    info.env = plan.merged_env.clone();
    info.exposed_ports = plan.ports.clone();
    let json = serde_json::to_string(&info.bounded()).unwrap_or_else(|_| "{}".into());
    let mut env = plan.env.clone();
    env.push(format!("{TARGET_INFO_ENV}={json}"));

    let duration = args.run.unwrap_or_default();
    let mut cmd = vec![
        "watch".to_string(),
        "--duration-ms".into(),
        duration.as_millis().to_string(),
    ];
    for p in &plan.ports {
        cmd.extend(["--port".to_string(), p.clone()]);
    }
    if args.prod_like {
        cmd.push("--prod-like".into());
    }
    cmd.push("--".into());
    cmd.extend(plan.argv.iter().cloned());

    // The image's labels emptied, as a replica's: tools that act on them
    // (a Traefik route, a Compose project) must not take the throwaway
    // container for a live one. The options' labels and nosh's own stay.
    let mut labels = crate::host::sidecar::replica::replica_labels(target);
    labels.extend(plan.labels.clone());
    labels.extend(session_labels(target, SESSION));
    let network = args.docker_run.network.clone();
    // The engine refuses network sysctls in a network namespace it does
    // not make (host, another container's).
    let own_netns = network
        .as_deref()
        .is_none_or(|n| n != "host" && !n.starts_with("container:"));
    let mut host = HostConfig {
        security_opt: Some(plan.security_opt.clone()).filter(|o| !o.is_empty()),
        volumes_from: Some(vec![format!("{helper}:ro")]),
        binds: Some(args.docker_run.volumes.clone()).filter(|v| !v.is_empty()),
        tmpfs: Some(plan.tmpfs.clone()).filter(|t| !t.is_empty()),
        port_bindings: Some(plan.port_bindings.clone()).filter(|p| !p.is_empty()),
        network_mode: network,
        auto_remove: Some(true),
        ..Default::default()
    };
    if args.prod_like {
        host.readonly_rootfs = Some(true);
        host.cap_drop = Some(vec!["ALL".into()]);
        let opts = host.security_opt.get_or_insert_with(Vec::new);
        if !opts.iter().any(|o| o.starts_with("no-new-privileges")) {
            opts.push("no-new-privileges".into());
        }
        if own_netns {
            host.sysctls = Some(HashMap::from([(
                PORT_START_SYSCTL.to_string(),
                "1024".to_string(),
            )]));
        }
    }
    ContainerCreateBody {
        image: Some(target.info.id.clone()),
        entrypoint: Some(vec![format!("{BINARY_DIR}/nosh")]),
        cmd: Some(cmd),
        user: Some(plan.user.clone()).filter(|u| !u.is_empty()),
        env: Some(env),
        labels: Some(labels),
        exposed_ports: Some(plan.port_bindings.keys().cloned().collect::<Vec<_>>())
            .filter(|p| !p.is_empty()),
        // The image's probe is not the start being judged.
        healthcheck: Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(host),
        ..Default::default()
    }
}

/// A report with one finding: the container did not start at all.
fn not_started(target: &Target, args: &DoctorArgs, message: String, fix: &str) -> Document {
    Document {
        target: target.info.name.clone(),
        image: target.info.image.clone(),
        prod_like: args.prod_like,
        findings: vec![Finding {
            id: "start-failed".into(),
            severity: "error".into(),
            message,
            evidence: serde_json::json!({}),
            fix: fix.into(),
            ..Finding::default()
        }],
        ..Default::default()
    }
}

/// Steps 1 to 4. The helper and any container left are the caller's to
/// remove on every path ([`Tracker::clean_up`]); here only on success.
pub async fn run(
    engine: &Engine,
    args: &DoctorArgs,
    toolbox_image: &str,
    tracker: &Tracker,
) -> Result<Document, HostError> {
    let reference = args.target.clone().unwrap_or_default();
    // 1.
    let target = crate::host::target::resolve(engine, &reference, true).await?;
    let plan = plan(&target, args)?;
    if plan.argv.is_empty() {
        return Ok(not_started(
            &target,
            args,
            "the image has no command: no ENTRYPOINT and no CMD".into(),
            "give the image an ENTRYPOINT in exec form: ENTRYPOINT [\"/app/server\"]",
        ));
    }
    let mut fresh_volumes = Vec::new();
    for v in &plan.named_volumes {
        if engine.docker.inspect_volume(v).await.is_err() {
            fresh_volumes.push(v.clone());
        }
    }
    // 2.
    let mut helper = crate::host::sidecar::replica::helper_config(&target, toolbox_image);
    let labels = helper.labels.get_or_insert_with(HashMap::new);
    labels.extend(plan.labels.clone());
    labels.insert(tracker.label().0, tracker.label().1);
    let helper_id = engine
        .docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            helper,
        )
        .await
        .map_err(|e| {
            crate::host::error::from_engine(&engine.endpoint, "create the toolbox helper", &e)
        })?
        .id;
    tracker.helper(&helper_id);
    // 3.
    let name = format!(
        "{}-run",
        crate::host::sidecar::spec::sidecar_name(&format!("doctor-{}", short_ref(&reference)))
    );
    let config = config(&target, &plan, &helper_id, args);
    let captured = capture::run(engine, tracker, &name, config, Until::Removed, None).await;
    // 4. (the container is gone: removed once it ended)
    tracker.remove_helper(engine).await;
    for v in &fresh_volumes {
        if let Err(e) = engine
            .docker
            .remove_volume(v, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
        {
            engine.log.say(|| format!("remove volume {v}: {e}"));
        }
    }
    let captured = match captured {
        Ok(c) => c,
        Err((Step::Start, HostError::Engine { reason, .. })) => {
            // The engine's refusal is the image's problem, as production
            // would meet it: a user it cannot find, a mount over a file.
            return Ok(not_started(
                &target,
                args,
                format!("the engine could not start the container: {reason}"),
                "see the reason; `docker run` of the image with the same options fails the same way",
            ));
        }
        Err((_, e)) => return Err(e),
    };
    let doc: Document = serde_json::from_slice(&captured.stdout).map_err(|_| {
        HostError::WatchFailed(captured.complaint(&format!(
            "the watch ended with status {} and no report",
            captured.status
        )))
    })?;
    Ok(doc)
}

/// An image reference shortened for a container name.
fn short_ref(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.split([':', '@']).next().unwrap_or(last).to_string()
}

/// The image's history (`CreatedBy`, newest first) and the Dockerfile: the
/// lines of the report's findings.
pub async fn locate(engine: &Engine, image: &str, doc: &mut Document, dockerfile: Option<&Path>) {
    let history: Vec<String> = match engine.docker.image_history(image).await {
        Ok(h) => h.into_iter().map(|e| e.created_by).collect(),
        Err(e) => {
            engine.log.say(|| format!("image history of {image}: {e}"));
            return;
        }
    };
    let file = crate::report::dockerfile::read(dockerfile);
    crate::report::dockerfile::locate(doc, &history, file.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::info::TargetInfo;

    fn image() -> Target {
        Target {
            info: TargetInfo {
                name: "claims:1".into(),
                image: "claims:1".into(),
                id: "sha256:0123".into(),
                entrypoint: Some(vec!["/app/server".into()]),
                cmd: Some(vec!["--port".into(), "80".into()]),
                user: "65532".into(),
                env: vec!["PATH=/usr/bin".into(), "MODE=dev".into()],
                exposed_ports: vec!["80/tcp".into()],
                ..Default::default()
            },
            is_image: true,
            ..Default::default()
        }
    }

    fn args(extra: &[&str]) -> DoctorArgs {
        use clap::Parser;
        let mut all = vec!["nosh", "doctor", "claims:1", "--run=3s"];
        all.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(all).unwrap().command {
            Some(crate::cli::Command::Doctor(d)) => *d,
            _ => panic!("not doctor"),
        }
    }

    #[test]
    fn the_image_runs_its_own_command_unless_told_otherwise() {
        let p = plan(&image(), &args(&[])).unwrap();
        assert_eq!(p.argv, ["/app/server", "--port", "80"]);
        assert_eq!(p.user, "65532");
        let p = plan(&image(), &args(&["--", "--port", "8080"])).unwrap();
        assert_eq!(p.argv, ["/app/server", "--port", "8080"]);
        // --entrypoint clears the image's CMD, as docker run does.
        let p = plan(&image(), &args(&["--entrypoint", "/app/other"])).unwrap();
        assert_eq!(p.argv, ["/app/other"]);
        let p = plan(
            &image(),
            &args(&["-u", "0", "-e", "MODE=prod", "-e", "NOT_SET_ANYWHERE_XYZ"]),
        )
        .unwrap();
        assert_eq!(p.user, "0");
        assert_eq!(p.env, ["MODE=prod"]);
        assert_eq!(p.merged_env, ["PATH=/usr/bin", "MODE=prod"]);
    }

    #[test]
    fn published_ports_are_awaited_and_bound_as_docker_binds_them() {
        let p = plan(
            &image(),
            &args(&[
                "-p",
                "8080:8080",
                "-p",
                "127.0.0.1:9000:9000/udp",
                "-p",
                "[::1]:7000:7000",
            ]),
        )
        .unwrap();
        assert_eq!(p.ports, ["80/tcp", "8080/tcp", "9000/udp", "7000/tcp"]);
        let b = &p.port_bindings["9000/udp"].as_ref().unwrap()[0];
        assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(b.host_port.as_deref(), Some("9000"));
        assert_eq!(
            p.port_bindings["7000/tcp"].as_ref().unwrap()[0]
                .host_ip
                .as_deref(),
            Some("::1")
        );
        for bad in ["8000-8010:8000-8010", "x:80", "80/icmp", "1:2:3:4"] {
            assert!(plan(&image(), &args(&["-p", bad])).is_err(), "{bad}");
        }
        assert!(plan(&image(), &args(&["-v", "relative"])).is_err());
        assert!(plan(&image(), &args(&["--label", "io.nosh.session=x"])).is_err());
    }

    #[test]
    fn prod_like_is_read_only_capability_free_and_keeps_ports_from_1024() {
        let a = args(&["--prod-like", "--tmpfs", "/tmp:size=1m", "-v", "data:/data"]);
        let p = plan(&image(), &a).unwrap();
        assert_eq!(p.named_volumes, ["data"]);
        let c = config(&image(), &p, "helper1", &a);
        let h = c.host_config.unwrap();
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(h.security_opt.unwrap(), ["no-new-privileges"]);
        assert_eq!(h.sysctls.unwrap()[PORT_START_SYSCTL], "1024");
        assert_eq!(h.tmpfs.unwrap()["/tmp"], "size=1m");
        assert_eq!(h.volumes_from.unwrap(), ["helper1:ro"]);
        assert_eq!(h.auto_remove, Some(true));
        assert_eq!(c.entrypoint.unwrap(), ["/.nosh/nosh"]);
        let cmd = c.cmd.unwrap();
        assert_eq!(
            cmd,
            [
                "watch",
                "--duration-ms",
                "3000",
                "--port",
                "80/tcp",
                "--prod-like",
                "--",
                "/app/server",
                "--port",
                "80"
            ]
        );
        assert_eq!(c.image.as_deref(), Some("sha256:0123"));
        assert_eq!(
            c.labels.unwrap()[crate::host::sidecar::spec::LABEL_SESSION],
            SESSION
        );
        // Without --prod-like: the engine's defaults, and no extra tmpfs.
        let a = args(&[]);
        let c = config(&image(), &plan(&image(), &a).unwrap(), "h", &a);
        let h = c.host_config.unwrap();
        assert_eq!(
            (h.readonly_rootfs, h.cap_drop, h.sysctls, h.tmpfs),
            (None, None, None, None)
        );
        // A host network keeps the host's own sysctl: the engine refuses one.
        let a = args(&["--prod-like", "--network", "host"]);
        let c = config(&image(), &plan(&image(), &a).unwrap(), "h", &a);
        assert_eq!(c.host_config.unwrap().sysctls, None);
    }
}
