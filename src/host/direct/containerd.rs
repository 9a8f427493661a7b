//! Finding a containerd target: `containerd://[NAMESPACE/]ID` and
//! `pod://NAMESPACE/POD[/CONTAINER]`, through containerd's API
//! ([`containerd_api`]): the task's PID plus what the OCI spec says of the
//! container (args, env, user, cwd, image) for `entrypoint` and `doctor`.
//!
//! - `containerd://`: an exact id, a `nerdctl/name` label, or a unique id
//!   prefix, in the given namespace or in all of them;
//! - `pod://`: containerd's `k8s.io` namespace, matched by the CRI labels;
//!   the sandbox (pause) container is never the target.
//!
//! Everything containerd answers is the runtime's word about a container
//! whose spec its owner wrote: names are escaped before they are shown.

use std::collections::HashMap;
use std::path::Path;

use crate::host::direct::containerd_api::{self, ApiError, Client, Container};
use crate::host::direct::error::{DirectError, current_thread_runtime};
use crate::target::info::TargetInfo;
use crate::term::escape;

/// containerd's socket, where packages and Kubernetes nodes put it.
pub const DEFAULT_ADDRESS: &str = "/run/containerd/containerd.sock";

pub const CONTAINERD_SCHEME: &str = "containerd://";
pub const POD_SCHEME: &str = "pod://";

/// The namespace the CRI plugin (Kubernetes) keeps its containers in.
pub const K8S_NAMESPACE: &str = "k8s.io";

const NERDCTL_NAME: &str = "nerdctl/name";
const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
const POD_NAME: &str = "io.kubernetes.pod.name";
const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// `sandbox` for a pod's pause container, `container` for the others.
const CRI_KIND: &str = "io.cri-containerd.kind";

/// A containerd target as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Container {
        namespace: Option<String>,
        id: String,
    },
    Pod {
        namespace: String,
        pod: String,
        container: Option<String>,
    },
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wanted::Container {
                namespace: Some(ns),
                id,
            } => write!(f, "{ns}/{id}"),
            Wanted::Container { id, .. } => write!(f, "{id}"),
            Wanted::Pod {
                namespace,
                pod,
                container: Some(c),
            } => write!(f, "pod {namespace}/{pod} container {c}"),
            Wanted::Pod { namespace, pod, .. } => write!(f, "pod {namespace}/{pod}"),
        }
    }
}

/// Whether `target` names a containerd target.
pub fn is_containerd(target: &str) -> bool {
    target.starts_with(CONTAINERD_SCHEME) || target.starts_with(POD_SCHEME)
}

/// Parses `containerd://[NS/]ID` and `pod://NS/POD[/CONTAINER]`.
pub fn parse(target: &str) -> Result<Wanted, DirectError> {
    let bad = || DirectError::BadTarget(escape::field(target.as_bytes()).into_owned());
    if let Some(rest) = target.strip_prefix(CONTAINERD_SCHEME) {
        let parts: Vec<&str> = rest.split('/').collect();
        return match parts.as_slice() {
            [id] if !id.is_empty() => Ok(Wanted::Container {
                namespace: None,
                id: id.to_string(),
            }),
            [ns, id] if !ns.is_empty() && !id.is_empty() => Ok(Wanted::Container {
                namespace: Some(ns.to_string()),
                id: id.to_string(),
            }),
            _ => Err(bad()),
        };
    }
    if let Some(rest) = target.strip_prefix(POD_SCHEME) {
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        return match parts.as_slice() {
            [ns, pod] => Ok(Wanted::Pod {
                namespace: ns.to_string(),
                pod: pod.to_string(),
                container: None,
            }),
            [ns, pod, c] => Ok(Wanted::Pod {
                namespace: ns.to_string(),
                pod: pod.to_string(),
                container: Some(c.to_string()),
            }),
            _ => Err(bad()),
        };
    }
    Err(bad())
}

/// One container with the namespace it lives in.
#[derive(Debug, Clone)]
pub struct Found {
    pub namespace: String,
    pub container: Container,
}

impl Found {
    fn label(&self, key: &str) -> Option<&str> {
        self.container.labels.get(key).map(String::as_str)
    }

    /// `ns/id12 (name)`, for lists of candidates.
    fn describe(&self) -> String {
        let id = &self.container.id;
        let short = &id[..id.len().min(12)];
        let name = self
            .label(NERDCTL_NAME)
            .or_else(|| self.label(CONTAINER_NAME));
        let text = match name {
            Some(n) => format!("{}/{short} ({n})", self.namespace),
            None => format!("{}/{short}", self.namespace),
        };
        escape::field(text.as_bytes()).into_owned()
    }

    /// The name shown in the prompt and messages.
    fn name(&self) -> String {
        let name = self
            .label(NERDCTL_NAME)
            .or_else(|| self.label(CONTAINER_NAME))
            .unwrap_or(&self.container.id);
        name.to_string()
    }
}

/// Picks the container `wanted` names among `all` (pure, for unit tests).
pub fn pick(wanted: &Wanted, all: &[Found]) -> Result<Found, DirectError> {
    let shown = escape::field(wanted.to_string().as_bytes()).into_owned();
    match wanted {
        Wanted::Container { id, .. } => {
            if let Some(f) = all.iter().find(|f| &f.container.id == id) {
                return Ok(f.clone());
            }
            let named: Vec<&Found> = all
                .iter()
                .filter(|f| f.label(NERDCTL_NAME) == Some(id))
                .collect();
            let prefixed: Vec<&Found> = all
                .iter()
                .filter(|f| f.container.id.starts_with(id.as_str()))
                .collect();
            let candidates = if named.is_empty() { prefixed } else { named };
            match candidates.as_slice() {
                [] => Err(DirectError::NoSuchContainerd(shown)),
                [one] => Ok((*one).clone()),
                many => Err(DirectError::Ambiguous {
                    wanted: shown,
                    candidates: many.iter().map(|f| f.describe()).collect(),
                }),
            }
        }
        Wanted::Pod {
            namespace,
            pod,
            container,
        } => {
            let in_pod: Vec<&Found> = all
                .iter()
                .filter(|f| {
                    f.label(POD_NAMESPACE) == Some(namespace) && f.label(POD_NAME) == Some(pod)
                })
                // The pause container holds the namespaces, not the app.
                .filter(|f| {
                    f.label(CRI_KIND) != Some("sandbox") && f.label(CONTAINER_NAME).is_some()
                })
                .collect();
            if in_pod.is_empty() {
                return Err(DirectError::NoSuchPod(shown));
            }
            let chosen: Vec<&Found> = match container {
                Some(c) => in_pod
                    .iter()
                    .copied()
                    .filter(|f| f.label(CONTAINER_NAME) == Some(c))
                    .collect(),
                None => in_pod.clone(),
            };
            let names = || {
                let mut n: Vec<String> = in_pod
                    .iter()
                    .map(|f| escape::field(f.name().as_bytes()).into_owned())
                    .collect();
                n.sort();
                n.dedup();
                n
            };
            match chosen.as_slice() {
                [] => Err(DirectError::NoSuchPodContainer {
                    wanted: shown,
                    containers: names(),
                }),
                [one] => Ok((*one).clone()),
                _ if container.is_none() => Err(DirectError::PodHasMany {
                    wanted: shown,
                    path: escape::field(format!("{namespace}/{pod}").as_bytes()).into_owned(),
                    containers: names(),
                }),
                // Restarts keep the old container until it is collected.
                many => Err(DirectError::Ambiguous {
                    wanted: shown,
                    candidates: many.iter().map(|f| f.describe()).collect(),
                }),
            }
        }
    }
}

/// The task's PID, the container's facts and its seccomp profile (the OCI
/// spec's `linux.seccomp`): a single-threaded runtime, dropped before this
/// returns (the caller joins namespaces next).
pub fn find(address: &str, wanted: &Wanted) -> Result<Located, DirectError> {
    let runtime = current_thread_runtime()?;
    let found = runtime.block_on(lookup(address, wanted));
    drop(runtime);
    found
}

/// A container found for direct attach.
pub struct Located {
    pub pid: i32,
    pub info: TargetInfo,
    /// The engine's seccomp profile for it, when it wrote one down.
    pub seccomp: Option<serde_json::Value>,
}

async fn lookup(address: &str, wanted: &Wanted) -> Result<Located, DirectError> {
    let path = Path::new(address);
    let api = |e: ApiError| DirectError::Containerd {
        address: address.to_string(),
        reason: crate::toolbox::report(&e),
    };
    if !path.exists() {
        return Err(DirectError::NoContainerd(address.to_string()));
    }
    let mut client = Client::connect(path).await.map_err(api)?;
    let namespaces = match wanted {
        Wanted::Container {
            namespace: Some(ns),
            ..
        } => vec![ns.clone()],
        Wanted::Container { .. } => client.namespaces().await.map_err(api)?,
        Wanted::Pod { .. } => vec![K8S_NAMESPACE.to_string()],
    };
    let mut all = Vec::new();
    for ns in namespaces {
        for container in client.containers(&ns).await.map_err(api)? {
            all.push(Found {
                namespace: ns.clone(),
                container,
            });
        }
    }
    let found = pick(wanted, &all)?;
    let name = found.name();
    let task = client
        .task(&found.namespace, &found.container.id)
        .await
        .map_err(api)?;
    let shown = escape::field(name.as_bytes()).into_owned();
    let process = match task {
        Some(p) if p.status == containerd_api::RUNNING && p.pid > 0 => p,
        Some(p) => {
            return Err(DirectError::NotRunning {
                name: shown,
                state: containerd_api::status_name(p.status).into(),
            });
        }
        None => {
            return Err(DirectError::NotRunning {
                name: shown,
                state: "no task (created or stopped)".into(),
            });
        }
    };
    let mut info = info_from_spec(&found.container, name);
    info.state = "running".into();
    let pid = i32::try_from(process.pid).map_err(|_| DirectError::NoProcess(-1))?;
    Ok(Located {
        pid,
        info,
        seccomp: spec_of(&found.container)
            .map(|spec| spec["linux"]["seccomp"].clone())
            .filter(|s| !s.is_null()),
    })
}

fn spec_of(container: &Container) -> Option<serde_json::Value> {
    container
        .spec
        .as_ref()
        .and_then(|any| serde_json::from_slice(&any.value).ok())
}

/// What the OCI spec says, as the toolbox's [`TargetInfo`].
pub fn info_from_spec(container: &Container, name: String) -> TargetInfo {
    let spec = spec_of(container).unwrap_or_default();
    let process = &spec["process"];
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let args = strings(&process["args"]);
    let user = match (
        process["user"]["uid"].as_u64(),
        process["user"]["gid"].as_u64(),
    ) {
        (Some(u), Some(g)) => format!("{u}:{g}"),
        (Some(u), None) => u.to_string(),
        _ => String::new(),
    };
    TargetInfo {
        name,
        id: container.id.clone(),
        image: container.image.clone(),
        entrypoint: (!args.is_empty()).then_some(args),
        cmd: None,
        user,
        working_dir: process["cwd"].as_str().unwrap_or_default().to_string(),
        env: strings(&process["env"]),
        ..TargetInfo::default()
    }
}

/// Labels of a container, for tests.
pub fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ns: &str, id: &str, pairs: &[(&str, &str)]) -> Found {
        Found {
            namespace: ns.into(),
            container: Container {
                id: id.into(),
                labels: labels(pairs),
                ..Default::default()
            },
        }
    }

    fn node() -> Vec<Found> {
        vec![
            c("default", "abc111", &[(NERDCTL_NAME, "web")]),
            c("default", "abc222", &[]),
            c("moby", "f00", &[(NERDCTL_NAME, "abc")]),
            c(
                K8S_NAMESPACE,
                "pause1",
                &[
                    (POD_NAMESPACE, "shop"),
                    (POD_NAME, "api-7f"),
                    (CRI_KIND, "sandbox"),
                ],
            ),
            c(
                K8S_NAMESPACE,
                "app1",
                &[
                    (POD_NAMESPACE, "shop"),
                    (POD_NAME, "api-7f"),
                    (CONTAINER_NAME, "api"),
                    (CRI_KIND, "container"),
                ],
            ),
            c(
                K8S_NAMESPACE,
                "side1",
                &[
                    (POD_NAMESPACE, "shop"),
                    (POD_NAME, "two-1"),
                    (CONTAINER_NAME, "app"),
                ],
            ),
            c(
                K8S_NAMESPACE,
                "side2",
                &[
                    (POD_NAMESPACE, "shop"),
                    (POD_NAME, "two-1"),
                    (CONTAINER_NAME, "envoy"),
                ],
            ),
        ]
    }

    fn id_of(r: Result<Found, DirectError>) -> String {
        r.unwrap().container.id
    }

    #[test]
    fn targets_parse_with_and_without_namespace_and_container() {
        assert_eq!(
            parse("containerd://web").unwrap(),
            Wanted::Container {
                namespace: None,
                id: "web".into()
            }
        );
        assert_eq!(
            parse("containerd://moby/web").unwrap(),
            Wanted::Container {
                namespace: Some("moby".into()),
                id: "web".into()
            }
        );
        assert_eq!(
            parse("pod://shop/api-7f/api").unwrap(),
            Wanted::Pod {
                namespace: "shop".into(),
                pod: "api-7f".into(),
                container: Some("api".into())
            }
        );
        for bad in [
            "containerd://",
            "containerd://a/b/c",
            "pod://shop",
            "pod://shop//x",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains("is not a containerd target"), "{e}");
            assert!(e.hint().unwrap().contains("pod://NAMESPACE/POD"));
        }
    }

    #[test]
    fn an_id_a_nerdctl_name_or_a_unique_prefix_finds_its_container() {
        let all = node();
        let want = |id: &str| Wanted::Container {
            namespace: None,
            id: id.into(),
        };
        assert_eq!(id_of(pick(&want("abc222"), &all)), "abc222");
        assert_eq!(id_of(pick(&want("web"), &all)), "abc111");
        // A name wins over an id prefix.
        assert_eq!(id_of(pick(&want("abc"), &all)), "f00");
        assert_eq!(id_of(pick(&want("abc2"), &all)), "abc222");
        let e = pick(&want("ab"), &all).unwrap_err();
        assert_eq!(
            e.to_string(),
            "'ab' matches more than one containerd container: default/abc111 (web), default/abc222"
        );
        let e = pick(&want("zzz"), &all).unwrap_err();
        assert_eq!(e.to_string(), "no such containerd container: zzz");
        assert!(e.hint().unwrap().contains("ctr -n NAMESPACE containers ls"));
    }

    #[test]
    fn a_pod_gives_its_only_container_never_the_sandbox() {
        let all = node();
        let pod = |p: &str, c: Option<&str>| Wanted::Pod {
            namespace: "shop".into(),
            pod: p.into(),
            container: c.map(str::to_string),
        };
        assert_eq!(id_of(pick(&pod("api-7f", None), &all)), "app1");
        assert_eq!(id_of(pick(&pod("two-1", Some("envoy")), &all)), "side2");
        let e = pick(&pod("two-1", None), &all).unwrap_err();
        assert_eq!(
            e.to_string(),
            "pod shop/two-1 has more than one container: app, envoy"
        );
        assert!(e.hint().unwrap().contains("pod://shop/two-1/app"));
        let e = pick(&pod("two-1", Some("nope")), &all).unwrap_err();
        assert_eq!(
            e.to_string(),
            "pod shop/two-1 container nope: no such container in the pod (it has app, envoy)"
        );
        let e = pick(&pod("gone", None), &all).unwrap_err();
        assert_eq!(e.to_string(), "no such pod on this node: pod shop/gone");
    }

    #[test]
    fn the_oci_spec_fills_the_target_info() {
        let container = Container {
            id: "abc".into(),
            image: "docker.io/library/app:1".into(),
            spec: Some(containerd_api::Any {
                type_url: String::new(),
                value: br#"{"process":{"args":["/app/demo-app","--port","8443"],"env":["PATH=/usr/bin"],"user":{"uid":65532,"gid":65532},"cwd":"/app"}}"#.to_vec(),
            }),
            ..Default::default()
        };
        let info = info_from_spec(&container, "web".into());
        assert_eq!(info.name, "web");
        assert_eq!(info.image, "docker.io/library/app:1");
        assert_eq!(
            info.entrypoint.unwrap(),
            ["/app/demo-app", "--port", "8443"]
        );
        assert_eq!(info.user, "65532:65532");
        assert_eq!(info.working_dir, "/app");
        assert_eq!(info.env, ["PATH=/usr/bin"]);
    }
}
