//! The mini-shell: parse ([`parse`]), expand ([`expand`]), run ([`exec`]),
//! read lines ([`line`]). It runs after the privilege drop, as the target's
//! identity, and sees the target's filesystem through [`Ctx::resolve`].

pub mod exec;
pub mod expand;
pub mod inroot;
pub mod io;
pub mod line;
pub mod parse;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::target::info::TargetInfo;
use crate::target::procinfo::Proc;
use crate::target::users::Users;
use crate::term::escape;
use crate::toolbox::identity::{Identity, Source as IdSource};
use crate::toolbox::join::View;

/// What confines the target's programs this session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confinement {
    /// A sidecar or a replica: the engine's container around the toolbox.
    Engine,
    /// Attached directly: in the target's cgroups, under a seccomp filter.
    Direct,
    /// Attached directly, but the target's cgroups could not be joined:
    /// its programs would run outside its limits, so none is started.
    Refused {
        /// Why the cgroups could not be joined.
        reason: String,
        /// How to attach to this target with a sidecar instead.
        sidecar: String,
    },
}

/// Everything the toolbox hands the shell after the drop.
pub struct Session {
    pub info: TargetInfo,
    /// The target's pid as seen from the shell.
    pub target_pid: i32,
    pub view: View,
    pub identity: Identity,
    pub id_source: IdSource,
    /// `-c`: run this line and exit.
    pub command: Option<String>,
    /// What confines the target's programs the shell starts.
    pub confinement: Confinement,
    /// Attached directly: where the seccomp profile came from.
    pub seccomp: Option<String>,
    /// The brought tools (`--with`), opened before the join.
    pub tools: Option<crate::tools::Brought>,
}

/// Shell state. Cloned for each stage of a multi-stage pipeline, so, as in
/// sh, a `cd` inside a pipeline does not change the shell's directory.
#[derive(Clone)]
pub struct Ctx {
    pub info: Arc<TargetInfo>,
    pub target_pid: i32,
    pub view: View,
    /// Where the target's `/` is for this process: `/`, or `/proc/N/root`.
    pub root: PathBuf,
    /// The working directory as the target names it.
    pub cwd: String,
    pub vars: BTreeMap<String, String>,
    pub last_status: i32,
    pub identity: Identity,
    pub id_source: IdSource,
    pub users: Arc<Users>,
    pub proc: Proc,
    pub history: Vec<String>,
    /// Set by `exit`.
    pub exit_requested: Option<i32>,
    /// What confines the target's programs ([`crate::toolbox::spawn`]).
    pub confinement: Confinement,
    /// Attached directly: where the seccomp profile came from.
    pub seccomp: Option<String>,
    /// The brought tools, if the session has any.
    pub tools: Option<Arc<crate::tools::Brought>>,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Ctrl-C cancels the running builtin (which polls [`interrupted`]), never
/// the shell.
fn install_sigint_handler() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let _ = unsafe { sigaction(Signal::SIGINT, &action) };
}

/// True once Ctrl-C was pressed during the current command.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::Relaxed);
}

impl Ctx {
    /// A context for a target whose filesystem is at `root` (used by tests and
    /// by [`run`]).
    pub fn new(
        info: TargetInfo,
        target_pid: i32,
        view: View,
        identity: Identity,
        id_source: IdSource,
    ) -> Ctx {
        let root = match &view {
            View::Joined => PathBuf::from("/"),
            View::ProcRoot(r) => r.clone(),
        };
        let cwd = match &view {
            View::Joined => std::env::current_dir()
                .ok()
                .and_then(|p| p.to_str().map(str::to_string))
                .unwrap_or_else(|| "/".into()),
            View::ProcRoot(_) if info.working_dir.starts_with('/') => info.working_dir.clone(),
            View::ProcRoot(_) => "/".into(),
        };
        let users = Arc::new(Users::load(&root));
        let proc = Proc::default();
        let vars = initial_vars(&proc, target_pid, &info, &identity, &users);
        let mut ctx = Ctx {
            info: Arc::new(info),
            target_pid,
            view,
            root,
            cwd,
            vars,
            last_status: 0,
            identity,
            id_source,
            users,
            proc,
            history: Vec::new(),
            exit_requested: None,
            confinement: Confinement::Engine,
            seccomp: None,
            tools: None,
        };
        ctx.vars.insert("PWD".into(), ctx.cwd.clone());
        ctx
    }

    /// A context whose target `/` is the directory `root`, run as this
    /// process's own uid and gid: for tests of builtins on temp dirs.
    pub fn for_root(root: PathBuf) -> Ctx {
        let gid = nix::unistd::getgid();
        let identity = Identity {
            uid: nix::unistd::getuid(),
            gid,
            groups: vec![gid],
        };
        Ctx::new(
            TargetInfo::default(),
            std::process::id() as i32,
            View::ProcRoot(root),
            identity,
            IdSource::Target,
        )
    }

    /// The value of a variable; `$?` is the last status.
    pub fn var(&self, name: &str) -> String {
        if name == "?" {
            return self.last_status.to_string();
        }
        self.vars.get(name).cloned().unwrap_or_default()
    }

    /// A path as the target names it, made absolute and normalized lexically.
    pub fn abs(&self, path: &str) -> String {
        let joined = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{}", self.cwd, path)
        };
        normalize(&joined)
    }

    /// Where the target's `path` is for this process, its final symlink
    /// followed as `open` does. Inside the target's mount namespace the
    /// kernel resolves it (symlinks and `..` as the app sees them); through
    /// `/proc/N/root` every component is resolved inside the target's root
    /// ([`inroot`]), so absolute links and `..` land where the app's do.
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.resolve_as(path, true)
    }

    /// As [`Ctx::resolve`], leaving a final symlink itself, as `lstat` and
    /// `readlink` want it.
    pub fn resolve_link(&self, path: &str) -> PathBuf {
        self.resolve_as(path, false)
    }

    fn resolve_as(&self, path: &str, follow: bool) -> PathBuf {
        match self.view {
            View::Joined => {
                if path.starts_with('/') {
                    PathBuf::from(path)
                } else if path.is_empty() {
                    PathBuf::from(&self.cwd)
                } else {
                    Path::new(&self.cwd).join(path)
                }
            }
            View::ProcRoot(_) => {
                let abs = if path.starts_with('/') {
                    path.to_string()
                } else {
                    format!("{}/{}", self.cwd, path)
                };
                inroot::resolve(&self.root, &abs, follow)
            }
        }
    }

    /// The target's name for `uid`.
    pub fn user_name(&self, uid: u32) -> String {
        self.users.user_name(uid)
    }

    pub fn group_name(&self, gid: u32) -> String {
        self.users.group_name(gid)
    }

    /// `claims-api uid=65532 /app $ `
    pub fn prompt(&self) -> String {
        let sigil = if self.identity.uid.is_root() {
            '#'
        } else {
            '$'
        };
        format!(
            "{} uid={} {} {sigil} ",
            escape::field(self.info.display_name().as_bytes()),
            self.identity.uid,
            escape::field(self.cwd.as_bytes())
        )
    }
}

/// Normalize `.` and `..` lexically; the result always starts with '/'.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The shell's variables: the target process's environment when readable
/// (same uid and dumpable), else the configured one; then a few of the
/// sidecar's own (TERM) and the identity's HOME/USER when missing.
fn initial_vars(
    proc: &Proc,
    pid: i32,
    info: &TargetInfo,
    id: &Identity,
    users: &Users,
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let entries: Vec<String> = match proc.environ(pid) {
        Ok(env) if !env.is_empty() => env
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect(),
        _ => info.env.clone(),
    };
    for e in entries {
        if let Some((k, v)) = e.split_once('=') {
            // In a replica, PID 1 is this toolbox: its environment is the
            // app's plus the host half's messages to us, which are not the app's.
            if !crate::target::info::is_host_env(&e) {
                vars.insert(k.to_string(), v.to_string());
            }
        }
    }
    if let Ok(term) = std::env::var("TERM") {
        vars.entry("TERM".into()).or_insert(term);
    }
    vars.entry("PATH".into())
        .or_insert_with(|| crate::target::info::ENGINE_DEFAULT_PATH.into());
    if let Some(u) = users.user_by_uid(id.uid.as_raw()) {
        vars.entry("HOME".into()).or_insert_with(|| u.home.clone());
        vars.entry("USER".into()).or_insert_with(|| u.name.clone());
    }
    vars
}

pub fn banner(ctx: &Ctx) -> String {
    let info = &ctx.info;
    let mut out = format!(
        "nosh {} — a shell for {}",
        env!("CARGO_PKG_VERSION"),
        escape::field(info.display_name().as_bytes())
    );
    if !info.image.is_empty() {
        out.push_str(&format!(
            " (image {})",
            escape::field(info.image.as_bytes())
        ));
    }
    out.push('\n');
    let cmd = ctx
        .proc
        .cmdline(ctx.target_pid)
        .map(|argv| {
            argv.iter()
                .map(|a| escape::field(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    if info.replica {
        out.push_str(&format!(
            "  replica   a copy of {} started with this shell instead of its command; the original is untouched\n",
            escape::field(info.display_name().as_bytes())
        ));
        let state = if info.state.is_empty() {
            "not running"
        } else {
            info.state.as_str()
        };
        if state == "image" {
            out.push_str("  original  an image: nothing has run yet\n");
        } else {
            out.push_str(&format!(
                "  original  {state}, {}",
                crate::target::info::last_run(info)
            ));
            if crate::target::info::last_exit_known(info)
                && let Some(why) = crate::target::info::explain_last_exit(info)
            {
                out.push_str(&format!(": {why}"));
            }
            out.push('\n');
        }
        if !info.error.is_empty() {
            out.push_str(&format!(
                "  error     {}\n",
                escape::field(info.error.as_bytes())
            ));
        }
        out.push_str("  try       `entrypoint --test` runs the configured command and explains why it dies\n");
    } else {
        out.push_str(&format!("  target    pid {} {}\n", ctx.target_pid, cmd));
    }
    let how = match ctx.id_source {
        IdSource::Target => "the target's",
        IdSource::User => "--user",
        IdSource::Root => "--root",
    };
    out.push_str(&format!(
        "  identity  uid={}({}) gid={}({}) ({how}), no capabilities, no_new_privs\n",
        ctx.identity.uid,
        escape::field(ctx.user_name(ctx.identity.uid.as_raw()).as_bytes()),
        ctx.identity.gid,
        escape::field(ctx.group_name(ctx.identity.gid.as_raw()).as_bytes()),
    ));
    match &ctx.view {
        View::Joined => out.push_str("  files     the target's own mount namespace and root\n"),
        View::ProcRoot(r) => out.push_str(&format!(
            "  files     through {} (the mount namespace was refused: no CAP_SYS_ADMIN); absolute symlinks resolve outside the target\n",
            r.display()
        )),
    }
    match (&ctx.confinement, &ctx.seccomp) {
        (Confinement::Engine, _) => {}
        (Confinement::Direct, Some(profile)) => out.push_str(&format!(
            "  confined  in the target's cgroups; seccomp: {}\n",
            escape::field(profile.as_bytes())
        )),
        (Confinement::Direct, None) => {
            out.push_str("  confined  in the target's cgroups\n");
        }
        (Confinement::Refused { reason, .. }, _) => out.push_str(&format!(
            "  confined  no: {}; the target's programs are not started\n",
            escape::field(reason.as_bytes())
        )),
    }
    if let Some(tools) = &ctx.tools {
        let names: Vec<String> = tools
            .manifest
            .tools
            .iter()
            .map(|t| escape::field(t.name.as_bytes()).into_owned())
            .collect();
        out.push_str(&format!(
            "  tools     {} (brought from the host; `tools` lists them)\n",
            names.join(", ")
        ));
    }
    out.push_str("  `help` lists the builtins; `exit` or Ctrl-D leaves. Nothing is written to the target unless you ask.\n");
    out
}

/// Set COLUMNS and LINES from the terminal, so scripts and tests see
/// resizes. Returns false while the terminal has no size yet (a sidecar's
/// TTY is 0x0 until the client's first resize arrives).
fn update_window_size(ctx: &mut Ctx) -> bool {
    if let Some((rows, cols)) = crate::sys::window_size().filter(|&(_, c)| c > 0) {
        ctx.vars.insert("COLUMNS".into(), cols.to_string());
        ctx.vars.insert("LINES".into(), rows.to_string());
        return true;
    }
    false
}

/// Run the shell to its end; the result is its exit status.
pub fn run(session: Session) -> u8 {
    install_sigint_handler();
    let mut ctx = Ctx::new(
        session.info,
        session.target_pid,
        session.view,
        session.identity,
        session.id_source,
    );
    ctx.confinement = session.confinement;
    ctx.seccomp = session.seccomp;
    ctx.tools = session.tools.map(Arc::new);
    if !ctx.info.cut.is_empty() {
        eprintln!(
            "nosh: the target's configuration was too large to hand over whole; entrypoint and doctor see only part of it ({})",
            escape::field(ctx.info.cut.join("; ").as_bytes())
        );
    }
    if let Some(line) = session.command {
        update_window_size(&mut ctx);
        let status = exec::run_line(&line, &mut ctx);
        return ctx.exit_requested.unwrap_or(status) as u8;
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if interactive {
        // The client sends the size right after start; wait a moment for it
        // so the banner and the first prompt know the width.
        for _ in 0..50 {
            if update_window_size(&mut ctx) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(4));
        }
        print!("{}", banner(&ctx));
        let _ = std::io::stdout().flush();
    }
    let mut reader = line::Reader::new(interactive, &ctx);
    loop {
        update_window_size(&mut ctx);
        match reader.read_line(&ctx.prompt(), &ctx) {
            line::Input::Line(l) => {
                if l.trim().is_empty() {
                    continue;
                }
                ctx.history.push(l.clone());
                update_window_size(&mut ctx);
                exec::run_line(&l, &mut ctx);
                if let Some(code) = ctx.exit_requested {
                    return code as u8;
                }
            }
            line::Input::Interrupted => {
                ctx.last_status = 130;
            }
            line::Input::Eof => break,
            line::Input::Error(e) => {
                eprintln!("nosh: cannot read input: {e}");
                return crate::EXIT_NOSH_FAILED;
            }
        }
    }
    ctx.last_status as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize("/a/./b/../c"), "/a/c");
        assert_eq!(normalize("/../.."), "/");
        assert_eq!(normalize("//x//y/"), "/x/y");
    }
}
