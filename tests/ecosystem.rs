//! nosh among the Docker tools: as the docker CLI's plugin (run by the real
//! docker CLI), choosing the engine from the CLI's contexts, and what
//! `make install` lays out.
//!
//! Every docker CLI call here gets its own HOME or DOCKER_CONFIG in a temp
//! dir, so the user's contexts and plugins are neither read nor changed.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Container, NONROOT, Nosh, nosh_bin, repo_dir, static_app_image};

/// `env -u ... VAR=VALUE ... PROGRAM`: the engine-choosing variables of the
/// environment the tests run in must not leak into the case under test, so
/// they are unset and only `vars` set.
fn clean_env(program: &str, vars: &[(&str, &str)]) -> Nosh {
    let mut cmd = Nosh::program("env");
    for var in [
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "DOCKER_CONFIG",
        "DOCKER_TLS_VERIFY",
    ] {
        cmd.args(["-u", var]);
    }
    for (k, v) in vars {
        cmd.arg(format!("{k}={v}"));
    }
    cmd.arg(program);
    cmd
}

/// A HOME with nosh installed as the docker CLI plugin, as a user would
/// install it: `~/.docker/cli-plugins/docker-nosh` linking to the binary.
fn home_with_plugin() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("temp HOME");
    let plugins = home.path().join(".docker/cli-plugins");
    fs::create_dir_all(&plugins).expect("plugin dir");
    symlink(nosh_bin(), plugins.join("docker-nosh")).expect("plugin link");
    home
}

fn docker_in(home: &Path) -> Nosh {
    clean_env("docker", &[("HOME", &home.to_string_lossy())])
}

/// `docker --config DIR context create NAME --docker host=HOST`.
fn create_context(config: &Path, name: &str, host: &str) {
    clean_env("docker", &[])
        .args(["--config", &config.to_string_lossy(), "context", "create"])
        .args([name, "--docker", &format!("host={host}")])
        .run()
        .success();
}

fn target() -> Container {
    let app = Container::run(&static_app_image(), &[]);
    app.wait_running();
    app
}

const UID_LINE: &str = "uid=65532";

#[test]
fn docker_nosh_runs_a_session_through_the_real_docker_cli() {
    assert_eq!(NONROOT, 65532);
    let home = home_with_plugin();
    let app = target();
    docker_in(home.path())
        .args(["nosh", app.name()])
        .c("id")
        .run()
        .success()
        .stdout_has(UID_LINE);
}

#[test]
fn the_docker_cli_lists_the_plugin_and_shows_its_help() {
    let home = home_with_plugin();
    // The CLI reads the metadata and lists the plugin with its description.
    docker_in(home.path())
        .arg("help")
        .run()
        .success()
        .stdout_has("nosh*")
        .stdout_has("A debug shell for containers that have no shell");
    docker_in(home.path())
        .args(["nosh", "--help"])
        .run()
        .success()
        .stdout_has("Usage: docker nosh");
    Nosh::new()
        .arg("docker-cli-plugin-metadata")
        .run()
        .success()
        .stdout_has(r#""SchemaVersion":"0.1.0""#)
        .stdout_has(r#""Vendor":"nosh""#);
}

#[test]
fn docker_context_reaches_the_plugin_through_the_cli() {
    let home = home_with_plugin();
    let config = home.path().join(".docker");
    create_context(&config, "nosh-test", "unix:///var/run/docker.sock");
    let app = target();
    // `docker --context X nosh` passes `--context X` in front of the
    // plugin name.
    docker_in(home.path())
        .args(["--context", "nosh-test", "nosh", app.name()])
        .c("id")
        .run()
        .success()
        .stdout_has(UID_LINE);
    docker_in(home.path())
        .args(["--context", "nope", "nosh", app.name()])
        .c("id")
        .run()
        .code_is(125)
        .stderr_has("no such Docker context: nope");
}

/// A DOCKER_CONFIG with a context named `nosh-test` for the local engine.
fn config_with_context() -> tempfile::TempDir {
    let config = tempfile::tempdir().expect("temp DOCKER_CONFIG");
    create_context(config.path(), "nosh-test", "unix:///var/run/docker.sock");
    config
}

fn nosh_with_config(config: &Path, vars: &[(&str, &str)]) -> Nosh {
    let config = config.to_string_lossy();
    let mut all = vec![("DOCKER_CONFIG", config.as_ref())];
    all.extend_from_slice(vars);
    clean_env(&nosh_bin().to_string_lossy(), &all)
}

#[test]
fn nosh_follows_a_context_given_by_flag_or_environment() {
    let config = config_with_context();
    let app = target();
    nosh_with_config(config.path(), &[])
        .args(["--context", "nosh-test", app.name()])
        .c("id")
        .run()
        .success()
        .stdout_has(UID_LINE);
    nosh_with_config(config.path(), &[("DOCKER_CONTEXT", "nosh-test")])
        .arg(app.name())
        .c("id")
        .run()
        .success()
        .stdout_has(UID_LINE);
}

#[test]
fn the_current_context_of_the_docker_cli_is_used() {
    let config = config_with_context();
    let unreachable = "unix:///nonexistent-nosh-test.sock";
    create_context(config.path(), "elsewhere", unreachable);
    clean_env("docker", &[])
        .args(["--config", &config.path().to_string_lossy()])
        .args(["context", "use", "elsewhere"])
        .run()
        .success();
    nosh_with_config(config.path(), &[])
        .args(["ls"])
        .run()
        .code_is(125)
        .stderr_has("nonexistent-nosh-test.sock");
}

#[test]
fn an_unknown_context_is_one_sentence_and_a_hint_with_status_125() {
    let config = config_with_context();
    let out = nosh_with_config(config.path(), &[])
        .args(["--context", "nope", "whatever"])
        .c("id")
        .run();
    out.code_is(125)
        .stderr_has("nosh: no such Docker context: nope\n")
        .stderr_has("hint: see the contexts with `docker context ls`");
    assert_eq!(out.stderr().lines().count(), 2, "{}", out.stderr());
}

#[test]
fn host_flag_beats_the_context_from_the_environment() {
    let config = config_with_context();
    nosh_with_config(config.path(), &[("DOCKER_CONTEXT", "nosh-test")])
        .args(["-H", "unix:///nonexistent.sock", "whatever"])
        .c("id")
        .run()
        .code_is(125)
        .stderr_has("cannot connect to the Docker engine at unix:///nonexistent.sock");
    // Both on the command line is refused, as the docker CLI refuses it.
    nosh_with_config(config.path(), &[])
        .args(["-H", "unix:///nonexistent.sock", "--context", "nosh-test"])
        .arg("whatever")
        .run()
        .code_is(125);
}

#[test]
fn completions_and_the_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Nosh::new().args(["completions", shell]).run();
        out.success().stdout_has("doctor");
        assert!(out.stdout().len() > 500, "{shell}: {}", out.stdout());
    }
    Nosh::new()
        .arg("man")
        .run()
        .success()
        .stdout_has(".TH NOSH 1")
        .stdout_has("debug shell for containers");
}

#[test]
fn color_never_and_no_color_keep_escapes_out_of_errors() {
    for (flag, no_color) in [("--color=never", ""), ("--color=auto", "1")] {
        let out = Nosh::new()
            .env("NO_COLOR", no_color)
            .args([flag, "-H", "unix:///nonexistent.sock", "app"])
            .run();
        out.code_is(125);
        assert!(!out.stderr().contains('\x1b'), "{}", out.stderr());
    }
    let out = Nosh::new()
        .args(["--color=always", "-H", "unix:///nonexistent.sock", "app"])
        .run();
    out.code_is(125);
    assert!(out.stderr().contains("\x1b[1;31m"), "{}", out.stderr());
}

#[test]
fn make_install_lays_out_binary_plugin_man_page_and_completions() {
    let dest = tempfile::tempdir().expect("DESTDIR");
    let out = Command::new("make")
        .current_dir(repo_dir())
        .args(["-s", "install", "PREFIX=/usr"])
        .arg(format!("DESTDIR={}", dest.path().display()))
        .arg(format!("INSTALL_BIN={}", nosh_bin().display()))
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make install failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let usr = dest.path().join("usr");
    let bin = usr.join("bin/nosh");
    for path in [
        "bin/nosh",
        "lib/docker/cli-plugins/docker-nosh",
        "share/man/man1/nosh.1",
        "share/bash-completion/completions/nosh",
        "share/zsh/site-functions/_nosh",
        "share/fish/vendor_completions.d/nosh.fish",
    ] {
        let p = usr.join(path);
        let len = fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .len();
        assert!(len > 0, "{} is empty", p.display());
    }
    let link = usr.join("lib/docker/cli-plugins/docker-nosh");
    assert_eq!(
        fs::read_link(&link).expect("plugin is a link"),
        PathBuf::from("../../../bin/nosh")
    );
    assert_eq!(
        fs::canonicalize(&link).unwrap(),
        fs::canonicalize(&bin).unwrap()
    );
    assert_eq!(
        fs::read(&bin).unwrap(),
        fs::read(nosh_bin()).unwrap(),
        "the installed binary is the one given"
    );
}

/// The docker CLI, signalled while its stdout is not a terminal, does not
/// signal the plugin: it closes the plugin socket. nosh takes that as
/// SIGTERM, ends the session (status 128 + 15) and removes the sidecar.
#[test]
fn a_signal_to_the_docker_cli_ends_the_plugin_session_and_removes_the_sidecar() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    use std::thread;
    use std::time::{Duration, Instant};

    let home = home_with_plugin();
    let app = target();
    let mut cli = Command::new("env")
        .args([
            "-u",
            "DOCKER_HOST",
            "-u",
            "DOCKER_CONTEXT",
            "-u",
            "DOCKER_CONFIG",
        ])
        .arg(format!("HOME={}", home.path().display()))
        .args(["docker", "nosh", "-T", app.name()])
        // Kept open: the session waits for commands.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run docker nosh");
    // The session is up once the shell answers (a signal before the
    // session's handlers exist would just kill the client).
    let mut stdin = cli.stdin.take().expect("stdin");
    stdin.write_all(b"echo ready\n").expect("send a command");
    let mut stdout = BufReader::new(cli.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the answer");
    assert_eq!(line, "ready\n");
    let sidecars = || {
        common::docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.nosh.target={}", app.id()),
        ])
    };
    let wait = |what: &str, done: &mut dyn FnMut() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(Instant::now() < deadline, "{what} within 30 s");
            thread::sleep(Duration::from_millis(50));
        }
    };
    assert!(!sidecars().is_empty(), "no sidecar while the session runs");
    let pid = Pid::from_raw(i32::try_from(cli.id()).expect("pid"));
    kill(pid, Signal::SIGTERM).expect("signal the docker CLI");
    let mut status = None;
    wait("docker nosh exits", &mut || {
        status = cli.try_wait().expect("wait");
        status.is_some()
    });
    let status = status.expect("exited");
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
    wait("the sidecar is removed", &mut || sidecars().is_empty());
    drop(stdin);
}
