//! Direct attach's own failures, shared by the attach (`mod.rs`) and the
//! runtimes it asks for a target (containerd, Kubernetes pods): each a
//! sentence and a hint, and none of them needs the attach itself.

use crate::host::error::HostError;

#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error("direct attach needs root on the target's host, and nosh runs as uid {0}")]
    NotRoot(u32),
    #[error("'{0}' is not a process id")]
    BadPid(String),
    #[error("no process {0} on this host")]
    NoProcess(i32),
    #[error("process {0} is the host's init, not a container")]
    HostInit(i32),
    #[error("process {0} shares the host's mount namespace: it is not in a container")]
    HostMountNs(i32),
    #[error(
        "process {0} is not in a container: it shares the host's PID, network and user namespaces and cgroups"
    )]
    NotAContainer(i32),
    #[error("direct attach needs the engine on this host, and the engine is {0}")]
    RemoteEngine(String),
    #[error("{0} is an image, not a container: direct attach needs a running container")]
    Image(String),
    #[error("container {name} is not running (state: {state})")]
    NotRunning { name: String, state: String },
    #[error("the runtime says container {name} is process {pid}, which is not that container here")]
    NotOnThisHost { name: String, pid: i64 },
    #[error("process {0} exited while nosh was attaching")]
    Exited(i32),
    #[error("failed to attach to process {pid}: {reason}")]
    Attach { pid: i32, reason: String },
    #[error("'{0}' is not a containerd target")]
    BadTarget(String),
    #[error("containerd's socket {0} does not exist")]
    NoContainerd(String),
    #[error("containerd at {address}: {reason}")]
    Containerd { address: String, reason: String },
    #[error("no such containerd container: {0}")]
    NoSuchContainerd(String),
    #[error("'{wanted}' matches more than one containerd container: {}", .candidates.join(", "))]
    Ambiguous {
        wanted: String,
        candidates: Vec<String>,
    },
    #[error("no such pod on this node: {0}")]
    NoSuchPod(String),
    #[error("{wanted}: no such container in the pod (it has {})", .containers.join(", "))]
    NoSuchPodContainer {
        wanted: String,
        containers: Vec<String>,
    },
    #[error("{wanted} has more than one container: {}", .containers.join(", "))]
    PodHasMany {
        wanted: String,
        path: String,
        containers: Vec<String>,
    },
    #[error(transparent)]
    Engine(#[from] HostError),
    #[error(transparent)]
    Bundle(#[from] crate::tools::bundle::BundleError),
    #[error("failed to prepare the brought tools in {dir}")]
    Tools {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

impl DirectError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            DirectError::NotRoot(_) => {
                "run it with sudo, or attach through the engine with a sidecar: `nosh NAME`".into()
            }
            DirectError::BadPid(_) => "pid:// takes a process id as the host sees it: pid://4242".into(),
            DirectError::NoProcess(_) | DirectError::Exited(_) => {
                "list the host's processes with `ps -e`; a restarted container has a new pid".into()
            }
            DirectError::HostInit(_) | DirectError::HostMountNs(_) => {
                "give the pid of a process inside the container (its main process: `docker inspect -f '{{.State.Pid}}' NAME`, `ctr task ls`, `machinectl status`)".into()
            }
            DirectError::NotAContainer(_) => {
                "give the pid of a process inside a container; --any-process attaches to this one anyway, with no container around the shell".into()
            }
            DirectError::RemoteEngine(_) => {
                "run nosh on the engine's host, or leave out --direct to attach with a sidecar".into()
            }
            DirectError::Image(_) => {
                "leave out --direct: nosh then opens a replica of what is not running".into()
            }
            DirectError::NotRunning { .. } => {
                "start it first; without --direct, a stopped Docker container gets a replica".into()
            }
            DirectError::NotOnThisHost { .. } => {
                "the engine runs in another PID namespace or VM (rootless, Docker Desktop): leave out --direct".into()
            }
            DirectError::BadTarget(_) => {
                "write containerd://[NAMESPACE/]ID or pod://NAMESPACE/POD[/CONTAINER]".into()
            }
            DirectError::NoContainerd(_) => {
                "is containerd running on this host? give its socket with --containerd-address (k3s: /run/k3s/containerd/containerd.sock)".into()
            }
            DirectError::Containerd { .. } => {
                "check that containerd runs and that this is its socket (--containerd-address)".into()
            }
            DirectError::NoSuchContainerd(_) => {
                "see the containers with `ctr -n NAMESPACE containers ls` or `nerdctl ps -a`; containerd:// takes an id, a unique id prefix or a nerdctl name".into()
            }
            DirectError::Ambiguous { .. } => {
                "give more characters of the id, or NAMESPACE/ID".into()
            }
            DirectError::NoSuchPod(_) => {
                "see this node's pods with `crictl pods`; pod:// takes the Kubernetes namespace and the pod's name".into()
            }
            DirectError::NoSuchPodContainer { .. } => {
                "name one of the pod's containers: pod://NAMESPACE/POD/CONTAINER".into()
            }
            DirectError::PodHasMany {
                path, containers, ..
            } => format!(
                "name one: pod://{path}/{}",
                containers.first().map_or("CONTAINER", String::as_str)
            ),
            DirectError::Attach { .. } | DirectError::Tools { .. } => return None,
            DirectError::Bundle(e) => return e.hint(),
            DirectError::Engine(e) => return e.hint(),
        })
    }
}

/// A single-threaded runtime for one engine or containerd lookup, dropped
/// before the target's namespaces are joined: setns(2) into a user or
/// mount namespace refuses a multithreaded caller.
pub(crate) fn current_thread_runtime() -> Result<tokio::runtime::Runtime, DirectError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DirectError::Attach {
            pid: 0,
            reason: format!("cannot start the async runtime: {e}"),
        })
}
