//! An engine behind ssh (`-H ssh://...`, `DOCKER_HOST`, a context), as the
//! docker CLI reaches one: a real sshd (Debian's openssh-server) started
//! here on a loopback port with a throwaway host key, a throwaway client key
//! authorized for root, and `docker system dial-stdio` run by sshd in front
//! of the local engine.
//!
//! ssh reads `~/.ssh/config` from the passwd entry's home, not `$HOME`, so
//! the user's configuration is stood in for by an `ssh` first on `PATH`
//! that adds `-F` with this test's config: nosh runs `ssh` from `PATH` and
//! relies on the configuration for keys and known hosts, as users' do.

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Container, Nosh, static_app_image};

const SSHD: &str = "/usr/sbin/sshd";

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed for the ssh tests: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// sshd on 127.0.0.1 with its own keys, killed on drop; and the client side
/// (a key, a config, an `ssh` on PATH that uses them).
struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Sshd {
    fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (scripts/test-deps.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = |name: &str| d.join(name).to_string_lossy().into_owned();
        // 1. Keys: the server's, and the client's authorized for root.
        for key in ["host_key", "client_key"] {
            run(
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-f", &path(key)],
            );
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        // 2. The server's configuration: keys only, this directory only.
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n",
                path("host_key"),
                path("authorized_keys")
            ),
        )
        .unwrap();
        // sshd insists on its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f", &path("sshd_config")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .expect("starting sshd");
        // 3. The client's configuration, and `ssh` on PATH using it.
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
                 StrictHostKeyChecking accept-new\n  BatchMode yes\n  LogLevel ERROR\n",
                path("client_key"),
                path("known_hosts")
            ),
        )
        .unwrap();
        std::fs::create_dir(d.join("bin")).unwrap();
        let wrapper = d.join("bin/ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
                path("ssh_config")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sshd = Sshd { dir, child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                sshd.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    /// `PATH` with this test's `ssh` first.
    fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// nosh with this test's `ssh`, and no engine chosen by the environment.
    fn nosh(&self) -> Nosh {
        self.nosh_with(&[])
    }

    /// Like [`Sshd::nosh`], with these variables set.
    fn nosh_with(&self, vars: &[(&str, &str)]) -> Nosh {
        let mut n = Nosh::program("env");
        n.args([
            "-u",
            "DOCKER_HOST",
            "-u",
            "DOCKER_CONTEXT",
            "-u",
            "DOCKER_CONFIG",
        ])
        .arg(format!("PATH={}", self.path_var()));
        for (k, v) in vars {
            n.arg(format!("{k}={v}"));
        }
        n.arg(common::nosh_bin().to_string_lossy().as_ref());
        n
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("docker-config")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_ssh_engine_runs_sessions_with_their_output_input_and_status() {
    let sshd = Sshd::start();
    let t = Container::run(&static_app_image(), &[]);
    t.wait_running();
    sshd.nosh()
        .args(["-H", &sshd.url(), t.name()])
        .c("id; ls /app")
        .run()
        .success()
        .stdout_has("uid=65532(nonroot)")
        .stdout_has("demo-app");
    // The status comes through the wait connection, also over ssh.
    sshd.nosh()
        .args(["-H", &sshd.url(), t.name()])
        .c("exit 3")
        .run()
        .code_is(3);
    // Commands on stdin: the end of input is a half-close carried by ssh.
    sshd.nosh()
        .args(["-H", &sshd.url(), "-T", t.name()])
        .stdin("echo one\necho two\n")
        .run()
        .success()
        .stdout_has("one\ntwo\n");
    t.assert_nothing_left();
}

#[test]
fn docker_host_and_an_ssh_context_reach_the_engine_over_ssh() {
    let sshd = Sshd::start();
    let t = Container::run(&static_app_image(), &[]);
    t.wait_running();
    sshd.nosh_with(&[("DOCKER_HOST", &sshd.url())])
        .arg(t.name())
        .c("whoami")
        .run()
        .success()
        .stdout_has("nonroot");
    // A context made by the docker CLI itself.
    let config = sshd.config_dir();
    let config = config.to_string_lossy();
    run(
        "docker",
        &[
            "--config",
            &config,
            "context",
            "create",
            "over-ssh",
            "--docker",
            &format!("host={}", sshd.url()),
        ],
    );
    let ran = sshd
        .nosh_with(&[("DOCKER_CONFIG", &config)])
        .args(["-v", "--context", "over-ssh", t.name()])
        .c("whoami")
        .run();
    ran.success().stdout_has("nonroot");
    assert!(
        ran.stderr()
            .contains(&format!("connected to {}", sshd.url())),
        "{}",
        ran.stderr()
    );
}

#[test]
fn a_killed_terminal_client_over_ssh_leaves_nothing_behind() {
    // With a TTY the engine never closes the shell's stdin: only the
    // watchdog, reaching the engine over ssh too, removes the sidecar.
    let sshd = Sshd::start();
    let t = Container::run(&static_app_image(), &[]);
    t.wait_running();
    let mut child = Command::new("env")
        .args(["-u", "DOCKER_HOST", "-u", "DOCKER_CONTEXT"])
        .arg(format!("PATH={}", sshd.path_var()))
        .arg(common::nosh_bin())
        .args(["-t", "-H", &sshd.url(), t.name()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.sidecars().is_empty() {
        assert!(Instant::now() < deadline, "no sidecar appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    // `env` execs nosh: this is nosh's pid.
    child.kill().unwrap();
    child.wait().unwrap();
    t.assert_nothing_left();
}

#[test]
fn an_unreachable_ssh_engine_is_one_sentence_with_ssh_s_reason_and_125() {
    let sshd = Sshd::start();
    let closed = free_port();
    let url = format!("ssh://root@127.0.0.1:{closed}");
    let ran = sshd.nosh().args(["-H", &url, "anything"]).c("id").run();
    ran.code_is(125)
        .stderr_has(&format!(
            "cannot connect to the Docker engine at {url}: ssh: connect to host 127.0.0.1 port {closed}: Connection refused"
        ))
        .stderr_has("hint: check that `ssh -l root -p");
    // A path after the host is refused before anything runs.
    sshd.nosh()
        .args(["-H", "ssh://root@127.0.0.1/var/run/docker.sock", "anything"])
        .c("id")
        .run()
        .code_is(125)
        .stderr_has("unsupported engine address");
}

#[test]
fn doctor_all_checks_a_local_and_an_ssh_engine_in_one_table_with_a_host_column() {
    let sshd = Sshd::start();
    let label = format!("gate-ssh={}", common::unique_suffix());
    let t = Container::run(&static_app_image(), &["--label", &label]);
    t.wait_port(8443);
    // The same engine, reached twice: over its socket and over ssh.
    let out = sshd
        .nosh()
        .args(["doctor", "--all", "--filter", &format!("label={label}")])
        .args(["-H", "unix:///var/run/docker.sock", "-H", &sshd.url()])
        .run();
    out.code_is(1);
    let lines: Vec<&str> = out.stdout().lines().collect();
    assert!(lines[0].starts_with("HOST"), "{}", out.stdout());
    for host in ["unix:///var/run/docker.sock", &sshd.url()] {
        let row = lines
            .iter()
            .find(|l| l.starts_with(&format!("{host} ")))
            .unwrap_or_else(|| panic!("no row for {host}:\n{}", out.stdout()));
        assert!(
            row.contains(t.name()) && row.ends_with("unwritable-path"),
            "{row}"
        );
    }
    t.assert_nothing_left();
}
