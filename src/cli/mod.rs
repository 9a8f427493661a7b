//! Command-line definitions for both halves. Parsing lives here so that
//! completions and the man page are generated from one source.

pub mod install;
pub mod plugin;

use clap::{Args, Parser, Subcommand};

/// A debug shell for containers that have no shell.
///
/// `nosh TARGET` attaches a toolbox sidecar that shares the target's PID,
/// network and mount namespaces, drops to the app's own identity with no
/// capabilities, and opens a mini-shell whose builtins inspect processes,
/// files, ports and permissions. The target is never modified. A stopped
/// or crash-looping container, or an image, gets a replica instead: a copy
/// started with the shell in place of its command, removed on exit.
///
/// Brought tools: `--with curl,strace` brings programs of this host, with
/// their libraries and the host's own loader, into the session; they are
/// commands of the shell that run in the target as the app's identity with
/// no capabilities, and nothing is written to the target (`tools` lists
/// them). Files: `nosh cp TARGET:PATH DEST` and `nosh cp SRC TARGET:PATH`
/// copy out and in as the app's identity, for every kind of target.
#[derive(Debug, Parser)]
#[command(
    name = "nosh",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  nosh claims-api                 open a shell beside the container\n  nosh claims-api -c 'why /var/log/claims-api write'\n  echo 'ps; ports' | nosh -T claims-api\n  nosh doctor claims-api --json\n  nosh claims-api --with curl -c 'curl -s http://127.0.0.1:8080/health'\n  nosh cp claims-api:/app/heap.hprof ."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// When to colour output; NO_COLOR turns `auto` off.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    pub color: crate::term::color::When,

    #[command(flatten)]
    pub attach: AttachArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a shell beside a running container, or in a replica of a
    /// stopped one or of an image (the default command).
    Attach(AttachArgs),
    /// The in-sidecar entry: join process PID's namespaces, drop to its
    /// identity and run the shell. Runs in any container that shares the
    /// target's PID namespace (Docker sidecar, `kubectl debug --target`).
    ///
    /// Every process of the target can read this command line. Arguments
    /// may come instead as a JSON list in $NOSH_TOOLBOX_ARGS
    /// (`["-c","http -H ..."]`, added after those given here), which the
    /// target cannot read; nosh itself passes them that way.
    Toolbox(ToolboxArgs),
    /// Remove sidecars left behind by sessions whose target or client is gone.
    Gc(EngineArgs),
    /// List live nosh sessions.
    Ls(EngineArgs),
    /// Run the hardened-image migration checklist on a container; exit 1
    /// when an error is found (for CI gates).
    ///
    /// `nosh TARGET -c 'doctor --help'` lists every check. FIPS-only
    /// algorithms are not checked: nothing outside the app says which ones
    /// it will use.
    Doctor(Box<DoctorArgs>),
    /// Reach ports inside a running container from the host, bound to
    /// 127.0.0.1 there or never published: each connection is carried into
    /// the container's network by a sidecar running as the app's user.
    /// Ctrl-C ends it.
    PortForward(PortForwardArgs),
    /// The in-container half of `nosh doctor IMAGE --run`: start COMMAND
    /// traced as this container's app, watch its start, run the checks and
    /// print them as JSON (started by the host half as PID 1 of a
    /// throwaway container).
    #[command(hide = true)]
    Watch(crate::toolbox::watch::WatchArgs),
    /// Copy files and directories out of a target or into it, as the app's
    /// identity: `nosh cp TARGET:PATH DEST`, `nosh cp SRC TARGET:PATH`.
    Cp(CpArgs),
    /// Write brought tools (`--with`, `--with-dir`) into a directory: for a
    /// toolbox image that carries them (`kubectl debug`), where the toolbox
    /// finds them at /.nosh/tools, or `nosh toolbox --tools DIR`.
    Bundle(BundleArgs),
    /// Print a completion script: `nosh completions bash > /etc/bash_completion.d/nosh`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `nosh man | man -l -`.
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Args, Clone)]
#[command(
    after_help = "Examples:\n  nosh port-forward claims-api 8080:80          host 127.0.0.1:8080 -> container 127.0.0.1:80\n  nosh port-forward claims-api 0:5432           a free local port, printed\n  nosh port-forward claims-api 0.0.0.0:9000:127.0.0.1:9000 8081:8081"
)]
pub struct PortForwardArgs {
    #[command(flatten)]
    pub engine: EngineArgs,

    /// Each connection's sidecar, as a session's.
    #[command(flatten)]
    pub limits: LimitArgs,

    /// Most connections carried at once, over every forward; one more is
    /// closed at once and logged in one line. Each holds a sidecar.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Use this prebuilt toolbox image instead of importing this binary.
    #[arg(long, value_name = "REF")]
    pub toolbox_image: Option<String>,

    /// Container name, id or unique id prefix (running).
    pub target: String,

    /// [ADDR:]LOCAL:[HOST:]REMOTE: listen on ADDR:LOCAL on this host
    /// (127.0.0.1 by default; LOCAL 0 picks a free port) and connect to
    /// HOST:REMOTE in the container (127.0.0.1 by default). IPs only.
    #[arg(required = true, value_name = "FORWARD")]
    pub forwards: Vec<String>,
}

#[derive(Debug, Args, Clone)]
#[command(
    after_help = "Examples:\n  nosh cp claims-api:/app/heap.hprof .          out of a running container\n  nosh cp ./config.yaml claims-api:/app/conf/    into it, as the app's uid\n  nosh cp crashed:/var/log/app ./logs            out of a stopped one (a replica)\n  nosh cp claims-api:/app - | tar -t             a tar stream on stdout\n  nosh cp pid://4242:/data/dump.bin .            attached directly (root)"
)]
pub struct CpArgs {
    #[command(flatten)]
    pub engine: EngineArgs,

    /// Follow the source if it is a symlink (in the target: inside its root).
    #[arg(short = 'L', long = "follow-link")]
    pub follow: bool,

    /// Copy as root (uid 0), still with no capabilities.
    #[arg(long)]
    pub root: bool,

    /// Copy as UID[:GID] instead of the target process's identity.
    #[arg(short, long, value_name = "UID[:GID]", conflicts_with = "root")]
    pub user: Option<String>,

    /// Use this prebuilt toolbox image instead of importing this binary.
    #[arg(long, value_name = "REF")]
    pub toolbox_image: Option<String>,

    /// Attach directly, without a sidecar (root on the target's host).
    #[arg(long, conflicts_with = "toolbox_image")]
    pub direct: bool,

    /// containerd's socket, for containerd:// and pod:// targets.
    #[arg(long, value_name = "PATH")]
    pub containerd_address: Option<String>,

    /// TARGET:PATH, a local path, or - (a tar stream on stdin). A path ending
    /// in /. copies what is inside the directory.
    #[arg(value_name = "SRC")]
    pub src: String,

    /// TARGET:PATH, a local path, or - (a tar stream on stdout). An existing
    /// directory takes the copy inside it; otherwise the copy gets this name.
    #[arg(value_name = "DEST")]
    pub dest: String,
}

#[derive(Debug, Args, Clone)]
pub struct BundleArgs {
    /// Programs of this host to bring (names in PATH or paths; repeatable,
    /// or comma-separated).
    #[arg(long = "with", value_name = "PROG[,PROG...]")]
    pub with: Vec<String>,

    /// Every executable file in DIR (DIR/lib is searched first for their
    /// libraries).
    #[arg(long = "with-dir", value_name = "DIR")]
    pub with_dir: Vec<std::path::PathBuf>,

    /// The directory to write (it must not exist).
    #[arg(value_name = "DIR")]
    pub dir: std::path::PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone, Default)]
#[command(
    after_help = "Examples:\n  nosh doctor claims-api                       a running or stopped container\n  nosh doctor claims:1.4 --run --prod-like     start the image as hardened production does\n  nosh doctor claims:1.4 --run=20s -e MODE=prod -p 8080:8080 -- --port 8080\n  nosh doctor claims:1.4 --run --prod-like --format junit --output report.xml\n  nosh doctor --all                            every running container, one table\n  nosh doctor --all -H ssh://a -H ssh://b      several engines, with a HOST column\n\nExit status: 0 clean, 1 errors found (with --fail-on warning: warnings too), 125 nosh failed."
)]
pub struct DoctorArgs {
    /// Engine socket or URL (unix:///var/run/docker.sock, tcp://host:2375,
    /// ssh://user@host); with --all it may be given several times.
    /// Defaults to $DOCKER_HOST, then the docker CLI's context, then the
    /// local socket.
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,

    /// The docker CLI context to use; with --all it may be given several
    /// times (hosts and contexts together).
    #[arg(long = "context", value_name = "NAME")]
    pub contexts: Vec<String>,

    /// Log engine calls on stderr.
    #[arg(long)]
    pub verbose: bool,

    /// One JSON document: {"target", "findings": [{id, severity, subject,
    /// message, evidence, fix}]} (--run adds "run"; --all gives {"containers": [...]}).
    /// The same as --format json.
    #[arg(long)]
    pub json: bool,

    /// Report format: text, json, junit (JUnit XML) or sarif (SARIF
    /// 2.1.0). Given several times, the Nth goes to the Nth --output; one
    /// left over goes to stdout.
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub formats: Vec<crate::report::Format>,

    /// Write a report to FILE (several allowed; - is stdout). Its format is
    /// the matching --format, else its name's (.xml JUnit, .sarif SARIF,
    /// .json JSON, else text); the terminal still gets text.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub outputs: Vec<String>,

    /// What fails the gate (exit 1): errors, or warnings too.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t)]
    pub fail_on: crate::report::FailOn,

    /// Judge as Kubernetes runs hardened workloads: unprivileged ports from
    /// 1024, read-only root filesystem, all capabilities dropped. With
    /// --run the container is started so (and no-new-privileges).
    #[arg(long)]
    pub prod_like: bool,

    /// For a container that exited: do not start its entrypoint under trace
    /// in the replica (it runs there, never in the container, for at most
    /// 5 s, to see the calls that fail).
    #[arg(long)]
    pub no_start: bool,

    /// Use this prebuilt toolbox image instead of importing this binary.
    #[arg(long, value_name = "REF")]
    pub toolbox_image: Option<String>,

    /// Attach directly, without a sidecar (root on the target's host).
    #[arg(long, conflicts_with_all = ["toolbox_image", "run", "all"])]
    pub direct: bool,

    /// containerd's socket, for containerd:// and pod:// targets.
    #[arg(long, value_name = "PATH")]
    pub containerd_address: Option<String>,

    /// TARGET is an image: start a throwaway container of it with its own
    /// entrypoint, command, user, environment and working directory (and
    /// the docker run options given), watch the start under trace until
    /// every exposed port listens, the app exits, or DURATION passes
    /// (default 10s; 500ms, 30s, 2m), judge what was seen, remove it all.
    #[arg(
        long,
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "10s",
        value_parser = parse_duration,
        conflicts_with = "all"
    )]
    pub run: Option<std::time::Duration>,

    #[command(flatten)]
    pub docker_run: RunOptions,

    /// The Dockerfile the image was built from, for the line of each
    /// finding in SARIF and text reports (default ./Dockerfile if present).
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<std::path::PathBuf>,

    /// Every running container of the engine (or of the containerd
    /// namespace TARGET names: containerd://NS/), in parallel; one table,
    /// the worst exit status.
    #[arg(long)]
    pub all: bool,

    /// With --all: how many containers are checked at once (default: the
    /// number of CPUs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// With --all: only containers matching, as `docker ps --filter`
    /// takes it (label=KEY[=VALUE], name=NAME, ancestor=IMAGE...).
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,

    /// Container name, id or unique id prefix, an image (with --run), or
    /// (attached directly) pid://PID, containerd://[NS/]ID,
    /// pod://NAMESPACE/POD[/CONTAINER]; with --all, containerd://NS/.
    #[arg(required_unless_present = "all")]
    pub target: Option<String>,

    /// With --run: the command and its arguments, in place of the image's
    /// CMD (after `--`, as docker run takes them after the image).
    #[arg(last = true, value_name = "COMMAND", requires = "run")]
    pub command: Vec<String>,
}

/// The `docker run` options `doctor --run` takes, with docker's meaning.
#[derive(Debug, Args, Clone, Default)]
pub struct RunOptions {
    /// Set an environment variable (KEY=VALUE, or KEY to pass this one's).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", requires = "run")]
    pub env: Vec<String>,

    /// Read environment variables from a file (KEY=VALUE lines).
    #[arg(long = "env-file", value_name = "FILE", requires = "run")]
    pub env_files: Vec<std::path::PathBuf>,

    /// Bind mount or volume: SOURCE:DEST[:OPTIONS].
    #[arg(
        short = 'v',
        long = "volume",
        value_name = "SRC:DEST[:OPTS]",
        requires = "run"
    )]
    pub volumes: Vec<String>,

    /// Mount a tmpfs: DEST[:OPTIONS].
    #[arg(long = "tmpfs", value_name = "DEST[:OPTS]", requires = "run")]
    pub tmpfs: Vec<String>,

    /// Publish a port: [IP:][HOST:]CONTAINER[/PROTO].
    #[arg(short = 'p', long = "publish", value_name = "PORTS", requires = "run")]
    pub publish: Vec<String>,

    /// Connect to this network (bridge, host, none, a network's name,
    /// container:NAME).
    #[arg(
        long = "network",
        alias = "net",
        value_name = "NETWORK",
        requires = "run"
    )]
    pub network: Option<String>,

    /// Run as USER[:GROUP] instead of the image's USER.
    #[arg(
        short = 'u',
        long = "user",
        value_name = "USER[:GROUP]",
        requires = "run"
    )]
    pub user: Option<String>,

    /// Replace the image's ENTRYPOINT (its CMD goes too, as with docker run).
    #[arg(long, value_name = "PROGRAM", requires = "run")]
    pub entrypoint: Option<String>,

    /// A security option as docker run takes it (seccomp=PROFILE.json,
    /// apparmor=PROFILE, no-new-privileges); a seccomp profile is read
    /// from its file, as the docker CLI does.
    #[arg(long = "security-opt", value_name = "OPTION", requires = "run")]
    pub security_opt: Vec<String>,

    /// Add a label to the containers made: KEY=VALUE.
    #[arg(
        short = 'l',
        long = "label",
        value_name = "KEY=VALUE",
        requires = "run"
    )]
    pub labels: Vec<String>,
}

/// A duration as `--run=` takes it: `10s`, `500ms`, `2m`, or seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10s, 500ms or 2m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("{text:?} is not a duration like 10s, 500ms or 2m")),
    };
    if !(0.0..=86_400.0).contains(&secs) || secs == 0.0 {
        return Err(format!("{text:?}: give a duration between 1ms and 24h"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// How to reach the engine.
#[derive(Debug, Args, Clone, Default)]
pub struct EngineArgs {
    /// Engine socket or URL (unix:///var/run/docker.sock, tcp://host:2375,
    /// ssh://user@host).
    /// Defaults to $DOCKER_HOST, then the docker CLI's context, then the
    /// local socket.
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub host: Option<String>,

    /// The docker CLI context to use (see `docker context ls`); overrides
    /// $DOCKER_HOST, $DOCKER_CONTEXT and the current context.
    #[arg(long, value_name = "NAME", conflicts_with = "host")]
    pub context: Option<String>,

    /// Log engine calls on stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct AttachArgs {
    #[command(flatten)]
    pub engine: EngineArgs,

    /// Run as UID[:GID] instead of the target process's identity.
    #[arg(short, long, value_name = "UID[:GID]", conflicts_with = "root")]
    pub user: Option<String>,

    /// Run as root (uid 0), still with no capabilities.
    #[arg(long)]
    pub root: bool,

    /// Use this prebuilt toolbox image instead of importing this binary.
    #[arg(long, value_name = "REF")]
    pub toolbox_image: Option<String>,

    /// Force a terminal session.
    #[arg(short = 't', long = "tty", conflicts_with = "no_tty")]
    pub tty: bool,

    /// Refuse a terminal: read commands from stdin, print plain output.
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,

    /// Run one command line and exit with its status.
    #[arg(short = 'c', value_name = "CMD", conflicts_with = "args")]
    pub command: Option<String>,

    /// TARGET is an image: start a replica of it (a name that is not a
    /// container is looked up as an image anyway).
    #[arg(long)]
    pub image: bool,

    /// Start a replica even of a running container: a copy started with this
    /// shell instead of its command (stopped containers always get one).
    #[arg(long)]
    pub replica: bool,

    /// Mount the original's volumes and bind mounts read-write in a replica
    /// (read-only by default).
    #[arg(long)]
    pub rw: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// Bring a program of this host into the session: a name in this host's
    /// PATH or a path, with its shared libraries and the host's own loader
    /// (repeatable, or comma-separated). In the shell it is a command like a
    /// builtin, run in the target as the app's identity with no
    /// capabilities; nothing is written to the target. `tools` lists them.
    #[arg(
        long = "with",
        value_name = "PROG[,PROG...]",
        conflicts_with = "toolbox_image"
    )]
    pub with: Vec<String>,

    /// Bring every executable file in DIR, a prepared toolkit (DIR/lib is
    /// searched first for their libraries).
    #[arg(
        long = "with-dir",
        value_name = "DIR",
        conflicts_with = "toolbox_image"
    )]
    pub with_dir: Vec<std::path::PathBuf>,

    /// Attach directly, without a sidecar: join the target's namespaces
    /// from this process (root on the target's host; the local engine is
    /// asked only for the container's PID and config). `pid://PID` targets
    /// always attach directly.
    #[arg(long, conflicts_with_all = ["image", "replica", "toolbox_image"])]
    pub direct: bool,

    /// With pid://: attach to a process that is not in a container (it
    /// shares the host's PID, network and user namespaces and cgroups),
    /// which is refused otherwise.
    #[arg(long)]
    pub any_process: bool,

    /// containerd's socket, for containerd:// and pod:// targets.
    #[arg(long, value_name = "PATH")]
    pub containerd_address: Option<String>,

    /// Container name, id or unique id prefix, an image; or, attached
    /// directly as root on this host: pid://PID (any process),
    /// containerd://[NAMESPACE/]ID (an id, unique prefix or nerdctl name),
    /// pod://NAMESPACE/POD[/CONTAINER] (a Kubernetes node's containerd).
    #[arg(value_name = "TARGET", required = true)]
    pub target: Option<String>,

    /// A command and its arguments to run instead of a shell (after `--`).
    #[arg(last = true, value_name = "CMD ARGS")]
    pub args: Vec<String>,

    /// `nosh cp`: a directory of this host holding a socket for the copy's
    /// bytes, mounted in the sidecar (see `toolbox::stream`).
    #[arg(skip)]
    pub stream_dir: Option<std::path::PathBuf>,
}

/// What each sidecar may use: a hostile target can make it work hard.
#[derive(Debug, Args, Clone, Default)]
pub struct LimitArgs {
    /// Most processes and threads the sidecar may hold (0: no limit).
    /// Default 1024.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub pids_limit: Option<i64>,

    /// Most memory the sidecar may use: bytes, or with a k, m or g suffix
    /// (0: no limit). Default 1g.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<i64>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ToolboxArgs {
    /// The target process, as seen from this PID namespace.
    #[arg(long, value_name = "PID", default_value_t = 1)]
    pub pid: i32,

    /// Run as UID[:GID] instead of the target process's identity.
    #[arg(short, long, value_name = "UID[:GID]", conflicts_with = "root")]
    pub user: Option<String>,

    /// Run as root (uid 0), still with no capabilities.
    #[arg(long)]
    pub root: bool,

    /// The target's container id (as its cgroup path names it). PID must
    /// belong to it; when it does not (the target shares another
    /// container's or the host's PID namespace), the container's first
    /// process is joined, or nothing. Without it, a PID 1 named `pause` (a
    /// pod's sandbox) stands for the one app process beside it.
    #[arg(long, value_name = "ID", conflicts_with = "exact")]
    pub container_id: Option<String>,

    /// Join PID as given, even a PID 1 named `pause`: the host half says so
    /// for a target that owns its PID namespace, whose PID 1 is its app.
    #[arg(long)]
    pub exact: bool,

    /// Run one command line and exit with its status.
    #[arg(short = 'c', value_name = "CMD")]
    pub command: Option<String>,

    /// Instead of a shell: connect to IP:PORT in the network namespace this
    /// sidecar shares with the target, as its identity, and copy stdin and
    /// stdout to it (one connection of `nosh port-forward`).
    #[arg(long, value_name = "IP:PORT")]
    pub forward: Option<String>,

    /// A directory of brought tools made by `nosh bundle` (default:
    /// /.nosh/tools, when the toolbox image carries one). Opened before
    /// joining the target: the tools never enter its filesystem.
    #[arg(long, value_name = "DIR")]
    pub tools: Option<std::path::PathBuf>,

    /// Without a TTY: end with a mark carrying this value and the exit
    /// status on stdout and stderr (set by the host half; see
    /// `toolbox::end_mark`).
    #[arg(long, value_name = "HEX", hide = true)]
    pub end_mark: Option<String>,

    /// The target's configuration as JSON (set by the host half).
    #[arg(
        long,
        value_name = "JSON",
        env = "NOSH_TARGET_INFO",
        hide_env_values = true
    )]
    pub target_info: Option<String>,
}

/// A size as `docker run --memory` takes it: bytes, or a number with a
/// `b`, `k`, `m` or `g` suffix (powers of 1024).
pub fn parse_size(text: &str) -> Result<i64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => lower.split_at(at),
        None => (lower.as_str(), ""),
    };
    let shift = match unit {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        _ => return Err(format!("{text:?} is not a size like 512m or 1g")),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 512m or 1g"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Quote words so that the mini-shell reads them back as the same words.
pub fn shell_join(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn target_and_command_parse_without_subcommand() {
        let cli = Cli::try_parse_from(["nosh", "app", "-c", "id"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.attach.target.as_deref(), Some("app"));
        assert_eq!(cli.attach.command.as_deref(), Some("id"));
    }

    #[test]
    fn words_after_double_dash_become_arguments() {
        let cli = Cli::try_parse_from(["nosh", "app", "--", "ls", "-l", "a b"]).unwrap();
        assert_eq!(cli.attach.args, ["ls", "-l", "a b"]);
        assert_eq!(shell_join(&cli.attach.args), "ls -l 'a b'");
    }

    #[test]
    fn sidecar_limits_parse_as_docker_run_takes_them() {
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1m").is_err());
        assert!(parse_size("99999999999g").is_err());
        let cli =
            Cli::try_parse_from(["nosh", "--pids-limit", "64", "--memory", "256m", "app"]).unwrap();
        assert_eq!(cli.attach.limits.pids_limit, Some(64));
        assert_eq!(cli.attach.limits.memory, Some(256 << 20));
        assert!(Cli::try_parse_from(["nosh", "--pids-limit", "-3", "app"]).is_err());
    }

    #[test]
    fn replica_flags_parse_before_the_target() {
        let cli = Cli::try_parse_from(["nosh", "--image", "app:1", "-c", "id"]).unwrap();
        assert!(cli.attach.image);
        assert_eq!(cli.attach.target.as_deref(), Some("app:1"));
        let cli = Cli::try_parse_from(["nosh", "--replica", "--rw", "app"]).unwrap();
        assert!(cli.attach.replica && cli.attach.rw);
    }

    #[test]
    fn doctor_run_takes_docker_run_options_and_a_duration() {
        let cli = Cli::try_parse_from([
            "nosh",
            "doctor",
            "app:1",
            "--run=2.5s",
            "--prod-like",
            "-e",
            "A=1",
            "-v",
            "/d:/d:ro",
            "-p",
            "8080:80",
            "--format",
            "junit",
            "-o",
            "r.xml",
            "--",
            "/app",
            "--port",
            "80",
        ])
        .unwrap();
        let Some(Command::Doctor(d)) = cli.command else {
            panic!("not doctor")
        };
        assert_eq!(d.run, Some(std::time::Duration::from_millis(2500)));
        assert_eq!(d.docker_run.env, ["A=1"]);
        assert_eq!(d.docker_run.volumes, ["/d:/d:ro"]);
        assert_eq!(d.command, ["/app", "--port", "80"]);
        assert_eq!(d.outputs, ["r.xml"]);
        let cli = Cli::try_parse_from(["nosh", "doctor", "app:1", "--run"]).unwrap();
        let Some(Command::Doctor(d)) = cli.command else {
            panic!("not doctor")
        };
        assert_eq!(d.run, Some(std::time::Duration::from_secs(10)));
        // docker run options mean nothing without --run.
        assert!(Cli::try_parse_from(["nosh", "doctor", "app", "-e", "A=1"]).is_err());
        assert!(Cli::try_parse_from(["nosh", "doctor", "--all", "--run"]).is_err());
        assert!(
            Cli::try_parse_from([
                "nosh",
                "doctor",
                "--all",
                "-H",
                "unix:///a",
                "-H",
                "ssh://b"
            ])
            .is_ok()
        );
        assert!(Cli::try_parse_from(["nosh", "doctor"]).is_err());
        assert_eq!(
            parse_duration("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("2m"),
            Ok(std::time::Duration::from_secs(120))
        );
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn toolbox_subcommand_parses() {
        let cli = Cli::try_parse_from(["nosh", "toolbox", "--pid", "7", "--root"]).unwrap();
        match cli.command {
            Some(Command::Toolbox(t)) => {
                assert_eq!(t.pid, 7);
                assert!(t.root);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
