//! `nosh doctor --all`: every running container of one or more engines
//! (or of a containerd namespace), checked in parallel, one table.
//!
//! Each container gets the sidecar `nosh doctor TARGET` would give it,
//! running `doctor --json`; at most `--jobs` at once over all engines (the
//! engine's own work per sidecar is most of the cost, and a fleet host
//! has more containers than cores). The toolbox binary is hashed once and
//! its image imported once per engine. A container that stops or goes
//! away meanwhile is reported as vanished, never fatal; nothing inspected
//! is signalled or changed (the sidecars only read).
//!
//! containerd namespaces (`containerd://NS/`) have no engine to start
//! sidecars with: each container is checked by a direct attach, in a
//! process of its own (a direct attach joins namespaces, which a process
//! with threads may not).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptionsBuilder;
use futures_util::StreamExt;

use crate::cli::{DoctorArgs, EngineArgs};
use crate::host::doctor::capture::{self, Tracker};
use crate::host::engine::wire::Until;
use crate::host::engine::{self, Engine, Log};
use crate::host::error::HostError;
use crate::host::sidecar::spec::{self, LABEL_SESSION, Limits, Request};
use crate::host::sidecar::watchdog::Watchdog;
use crate::report::{self, Document, Shape, Sink, Status};

/// One engine of the run, as given.
pub struct EngineSpec {
    /// Shown in the HOST column when several engines are checked.
    pub label: String,
    pub args: EngineArgs,
}

/// The engines `-H` and `--context` name, in order; none: the default one.
pub fn engines(args: &DoctorArgs) -> Vec<EngineSpec> {
    let base = EngineArgs {
        verbose: args.verbose,
        ..EngineArgs::default()
    };
    let mut out: Vec<EngineSpec> = args
        .hosts
        .iter()
        .map(|h| EngineSpec {
            label: h.clone(),
            args: EngineArgs {
                host: Some(h.clone()),
                ..base.clone()
            },
        })
        .collect();
    out.extend(args.contexts.iter().map(|c| EngineSpec {
        label: c.clone(),
        args: EngineArgs {
            context: Some(c.clone()),
            ..base.clone()
        },
    }));
    if out.is_empty() {
        out.push(EngineSpec {
            label: String::new(),
            args: base,
        });
    }
    out
}

/// The number of containers checked at once.
fn jobs(args: &DoctorArgs) -> usize {
    args.jobs.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    })
}

/// A line on a terminal saying how far the run is.
struct Progress {
    total: AtomicUsize,
    done: AtomicUsize,
    shown: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            shown: std::io::stderr().is_terminal(),
        }
    }

    fn one_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.shown {
            let total = self.total.load(Ordering::Relaxed);
            eprint!("\rdoctor: {done}/{total} containers checked");
        }
    }

    fn clear(&self) {
        if self.shown && self.done.load(Ordering::Relaxed) > 0 {
            eprint!("\r\x1b[K");
        }
    }
}

pub fn main(args: DoctorArgs, sinks: Vec<Sink>) -> ExitCode {
    if let Some(ns) = args.target.as_deref() {
        return containerd_all(&args, ns, sinks);
    }
    let specs = engines(&args);
    // Forked first, while this process has one thread: one per engine.
    let watchdogs: Vec<Option<Watchdog>> = specs
        .iter()
        .map(|s| {
            engine::chosen_endpoint(&s.args)
                .ok()
                .and_then(Watchdog::start)
        })
        .collect();
    let binary = args
        .toolbox_image
        .is_none()
        .then(|| std::thread::spawn(crate::host::sidecar::image::SelfBinary::read));
    crate::host::run_to_exit(async move {
        let trackers: Vec<Tracker> = watchdogs.into_iter().map(Tracker::new).collect();
        let log = Log::new(args.verbose);
        let connected: Vec<Result<Engine, HostError>> = futures_util::future::join_all(
            specs.iter().map(|s| engine::connect_args(&s.args, log)),
        )
        .await;
        let progress = Progress::new();
        let work = check_engines(&args, &specs, &connected, &trackers, binary, &progress);
        let result = capture::interruptible(work).await;
        progress.clear();
        for (e, t) in connected.iter().zip(&trackers) {
            if let Ok(e) = e
                && result.is_err()
            {
                t.clean_up(e).await;
            }
            t.done();
        }
        let docs = match result {
            Ok(docs) => docs?,
            Err(sig) => {
                eprintln!("nosh: interrupted; the sidecars of this run were removed");
                return Ok(128u8.saturating_add(sig as u8));
            }
        };
        crate::host::doctor::write(&sinks, Shape::All, &docs)?;
        Ok(report::exit_code(&docs, args.fail_on))
    })
}

/// Every engine's containers, checked; an engine that cannot be reached
/// or listed is a row of its own.
async fn check_engines(
    args: &DoctorArgs,
    specs: &[EngineSpec],
    connected: &[Result<Engine, HostError>],
    trackers: &[Tracker],
    binary: Option<
        std::thread::JoinHandle<Result<crate::host::sidecar::image::SelfBinary, HostError>>,
    >,
    progress: &Progress,
) -> Result<Vec<Document>, HostError> {
    let several = specs.len() > 1;
    let host = |i: usize| several.then(|| specs[i].label.clone());
    let binary = match binary {
        Some(task) => Some(crate::host::hashed(task).await?),
        None => None,
    };
    let mut docs = Vec::new();
    let mut work: Vec<(usize, ContainerSummary, String)> = Vec::new();
    for (i, engine) in connected.iter().enumerate() {
        let failed = |e: &HostError| Document {
            target: "-".into(),
            host: Some(specs[i].label.clone()).filter(|l| !l.is_empty()),
            status: Status::Failed,
            error: Some(error_line(e)),
            ..Default::default()
        };
        let engine = match engine {
            Ok(e) => e,
            Err(e) => {
                docs.push(failed(e));
                continue;
            }
        };
        let listed = list(engine, &args.filters).await;
        let image = match (&binary, &args.toolbox_image) {
            (Some(b), _) => crate::host::sidecar::image::ensure(engine, b).await,
            (None, Some(given)) => crate::host::sidecar::image::check_given(engine, given)
                .await
                .map(|()| given.clone()),
            (None, None) => Err(HostError::NoToolboxImage(String::new())),
        };
        match (listed, image) {
            (Ok(list), Ok(image)) => work.extend(list.into_iter().map(|c| (i, c, image.clone()))),
            (Err(e), _) | (_, Err(e)) => docs.push(failed(&e)),
        }
    }
    progress.total.store(work.len(), Ordering::Relaxed);
    let checked: Vec<Document> =
        futures_util::stream::iter(work.into_iter().map(|(i, c, image)| {
            let engine = connected[i].as_ref().ok();
            let tracker = &trackers[i];
            async move {
                let mut doc = match engine {
                    Some(engine) => check(engine, tracker, &image, &c, args.prod_like).await,
                    None => Document::default(),
                };
                doc.host = host(i);
                progress.one_done();
                doc
            }
        }))
        .buffer_unordered(jobs(args))
        .collect()
        .await;
    docs.extend(checked);
    docs.sort_by(|a, b| (&a.host, &a.target).cmp(&(&b.host, &b.target)));
    Ok(docs)
}

/// The running containers, `--filter`s applied, nosh's own left out.
async fn list(engine: &Engine, filters: &[String]) -> Result<Vec<ContainerSummary>, HostError> {
    let mut map: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::from([("status".to_string(), vec!["running".to_string()])]);
    for f in filters {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            HostError::BadRunOption(format!(
                "--filter {f}: give KEY=VALUE, as docker ps --filter takes it"
            ))
        })?;
        map.entry(k.to_string()).or_default().push(v.to_string());
    }
    let options = ListContainersOptionsBuilder::new().filters(&map).build();
    let all = engine
        .docker
        .list_containers(Some(options))
        .await
        .map_err(|e| crate::host::error::from_engine(&engine.endpoint, "list containers", &e))?;
    Ok(all
        .into_iter()
        .filter(|c| {
            !c.labels
                .as_ref()
                .is_some_and(|l| l.contains_key(LABEL_SESSION))
        })
        .collect())
}

fn error_line(e: &HostError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// One container: its sidecar's `doctor --json`.
async fn check(
    engine: &Engine,
    tracker: &Tracker,
    image: &str,
    c: &ContainerSummary,
    prod_like: bool,
) -> Document {
    let id = c.id.clone().unwrap_or_default();
    let name = c
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| id.chars().take(12).collect());
    let base = Document {
        target: name.clone(),
        image: c.image.clone().unwrap_or_default(),
        id: id.clone(),
        prod_like,
        ..Default::default()
    };
    let vanished = |why: &str| Document {
        status: Status::Vanished,
        error: Some(why.to_string()),
        ..base.clone()
    };
    let failed = |why: String| Document {
        status: Status::Failed,
        error: Some(why),
        ..base.clone()
    };
    let mut target = match crate::host::target::resolve(engine, &id, false).await {
        Ok(t) if t.is_image => return vanished("removed during the run"),
        Ok(t) => t,
        Err(HostError::NoSuchContainer(_)) => return vanished("removed during the run"),
        Err(e) => return failed(error_line(&e)),
    };
    if target.info.state != "running" || target.paused {
        return vanished(&format!("{} during the run", target.info.state));
    }
    target.info.log_tail = crate::host::target::log_tail(engine, &id).await;
    let mut command = String::from("doctor --json");
    if prod_like {
        command.push_str(" --prod-like");
    }
    let req = Request {
        command: Some(command),
        limits: Limits::default(),
        end_mark: crate::toolbox::end_mark::new_value().ok(),
        ..Request::default()
    };
    let config = spec::sidecar_config(&target, image, &req);
    let sidecar = spec::sidecar_name(&name);
    let mark = req.end_mark.as_deref();
    let outcome = capture::run(engine, tracker, &sidecar, config, Until::Exited, mark).await;
    let gone = || async {
        !engine
            .docker
            .inspect_container(&id, None)
            .await
            .ok()
            .and_then(|t| t.state?.running)
            .unwrap_or(false)
    };
    match outcome {
        Ok(out) => match serde_json::from_slice::<Document>(&out.stdout) {
            Ok(doc) => Document {
                findings: doc.findings,
                image: if doc.image.is_empty() {
                    base.image.clone()
                } else {
                    doc.image
                },
                ..base.clone()
            },
            Err(_) if gone().await => vanished("stopped during the run"),
            Err(_) => failed(out.complaint(&format!(
                "the sidecar ended with status {} and no report",
                out.status
            ))),
        },
        Err(_) if gone().await => vanished("stopped during the run"),
        Err((_, e)) => failed(error_line(&e)),
    }
}

/// `containerd://NS/` (or `containerd://NS`): the namespace's name.
fn namespace_of(target: &str) -> Option<&str> {
    let ns = target
        .strip_prefix(crate::host::direct::containerd::CONTAINERD_SCHEME)?
        .trim_end_matches('/');
    (!ns.is_empty() && !ns.contains('/')).then_some(ns)
}

/// `--all containerd://NS/`: the namespace's running containers, each by a
/// direct attach in a process of its own (`nosh doctor --json
/// containerd://NS/ID`).
fn containerd_all(args: &DoctorArgs, target: &str, sinks: Vec<Sink>) -> ExitCode {
    let Some(ns) = namespace_of(target).map(str::to_string) else {
        crate::host::report(&HostError::BadRunOption(format!(
            "--all takes containerd://NAMESPACE/ or no target, not {}",
            crate::term::escape::field(target.as_bytes())
        )));
        return ExitCode::from(crate::EXIT_NOSH_FAILED);
    };
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        let e = crate::host::direct::error::DirectError::NotRoot(euid.as_raw());
        crate::host::report_with_hint(&e, e.hint());
        return ExitCode::from(crate::EXIT_NOSH_FAILED);
    }
    let address = args
        .containerd_address
        .clone()
        .unwrap_or_else(|| crate::host::direct::containerd::DEFAULT_ADDRESS.to_string());
    let prod_like = args.prod_like;
    let jobs = jobs(args);
    let fail_on = args.fail_on;
    crate::host::run_to_exit(async move {
        let running = match running_in(&address, &ns).await {
            Ok(r) => r,
            Err(e) => {
                crate::host::report_with_hint(&e, e.hint());
                return Ok(crate::EXIT_NOSH_FAILED);
            }
        };
        let progress = Progress::new();
        progress.total.store(running.len(), Ordering::Relaxed);
        let exe = std::env::current_exe().map_err(|source| HostError::HashBinary {
            path: "/proc/self/exe".into(),
            source,
        })?;
        let work = futures_util::stream::iter(running.into_iter().map(|(id, name, image)| {
            let exe = exe.clone();
            let (address, ns, progress) = (&address, &ns, &progress);
            async move {
                let mut cmd = tokio::process::Command::new(&exe);
                cmd.args(["doctor", "--json", "--containerd-address", address]);
                if prod_like {
                    cmd.arg("--prod-like");
                }
                cmd.arg(format!("containerd://{ns}/{id}"))
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true);
                let out = cmd.output().await;
                let base = Document {
                    target: name,
                    image,
                    id: id.clone(),
                    prod_like,
                    ..Default::default()
                };
                let doc = match out {
                    Ok(o) if matches!(o.status.code(), Some(0 | 1)) => {
                        match serde_json::from_slice::<Document>(&o.stdout) {
                            Ok(d) => Document {
                                findings: d.findings,
                                ..base
                            },
                            Err(e) => Document {
                                status: Status::Failed,
                                error: Some(format!("unreadable report: {e}")),
                                ..base
                            },
                        }
                    }
                    Ok(o) => {
                        let c = capture::Captured {
                            status: i64::from(o.status.code().unwrap_or(-1)),
                            stdout: o.stdout,
                            stderr: o.stderr,
                        };
                        let why = c.complaint("the check failed");
                        let vanished = why.contains("not running")
                            || why.contains("no such")
                            || why.contains("exited while");
                        Document {
                            status: if vanished {
                                Status::Vanished
                            } else {
                                Status::Failed
                            },
                            error: Some(why),
                            ..base
                        }
                    }
                    Err(e) => Document {
                        status: Status::Failed,
                        error: Some(format!("cannot run {}: {e}", exe.display())),
                        ..base
                    },
                };
                progress.one_done();
                doc
            }
        }))
        .buffer_unordered(jobs)
        .collect::<Vec<Document>>();
        let mut docs = match capture::interruptible(work).await {
            Ok(d) => d,
            Err(sig) => {
                progress.clear();
                return Ok(128u8.saturating_add(sig as u8));
            }
        };
        progress.clear();
        docs.sort_by(|a, b| a.target.cmp(&b.target));
        crate::host::doctor::write(&sinks, Shape::All, &docs)?;
        Ok(report::exit_code(&docs, fail_on))
    })
}

/// The containers of `ns` whose task runs: (id, name, image).
async fn running_in(
    address: &str,
    ns: &str,
) -> Result<Vec<(String, String, String)>, crate::host::direct::error::DirectError> {
    use crate::host::direct::containerd_api::{Client, RUNNING};
    use crate::host::direct::error::DirectError;
    let api = |e: crate::host::direct::containerd_api::ApiError| DirectError::Containerd {
        address: address.to_string(),
        reason: crate::toolbox::report(&e),
    };
    let path = std::path::Path::new(address);
    if !path.exists() {
        return Err(DirectError::NoContainerd(address.to_string()));
    }
    let mut client = Client::connect(path).await.map_err(api)?;
    let mut out = Vec::new();
    for c in client.containers(ns).await.map_err(api)? {
        let running = client
            .task(ns, &c.id)
            .await
            .map_err(api)?
            .is_some_and(|p| p.status == RUNNING && p.pid > 0);
        if running {
            let name = ["nerdctl/name", "io.kubernetes.container.name"]
                .iter()
                .find_map(|k| c.labels.get(*k))
                .cloned()
                .unwrap_or_else(|| c.id.clone());
            out.push((c.id.clone(), name, c.image.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_containerd_namespace_is_named_with_or_without_its_slash() {
        assert_eq!(namespace_of("containerd://k8s.io/"), Some("k8s.io"));
        assert_eq!(namespace_of("containerd://default"), Some("default"));
        assert_eq!(namespace_of("containerd://ns/id"), None);
        assert_eq!(namespace_of("containerd:///"), None);
        assert_eq!(namespace_of("web"), None);
    }

    #[test]
    fn every_host_and_context_is_an_engine_and_none_is_the_default_one() {
        use clap::Parser;
        let parse = |v: &[&str]| match crate::cli::Cli::try_parse_from(v).unwrap().command {
            Some(crate::cli::Command::Doctor(d)) => *d,
            _ => panic!(),
        };
        let e = engines(&parse(&[
            "nosh",
            "doctor",
            "--all",
            "-H",
            "ssh://a",
            "--context",
            "b",
        ]));
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].args.host.as_deref(), Some("ssh://a"));
        assert_eq!(e[1].args.context.as_deref(), Some("b"));
        assert_eq!(e[1].label, "b");
        let e = engines(&parse(&["nosh", "doctor", "--all"]));
        assert_eq!(e.len(), 1);
        assert!(e[0].args.host.is_none() && e[0].args.context.is_none());
    }
}
