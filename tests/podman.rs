//! nosh against Podman's Docker-compatible API: the same session as with
//! Docker (`nosh -H unix://PODMAN_SOCKET TARGET -c id`), with the toolbox
//! image imported into Podman's storage and the sidecar joining the
//! target's namespaces.
//!
//! Needs `podman` (rootful; `.ci/run` installs Debian's package). The test
//! starts its own `podman system service` on a socket in a temp dir and
//! stops it at the end, so nothing else is needed and nothing is left
//! running. See docs/podman.md for what this machine needed
//! (`default_ulimits`).

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{Nosh, TEST_LABEL, docker, static_app_image};

/// Podman asks runc for RLIMIT_NOFILE 1048576 and a large RLIMIT_NPROC by
/// default; where root lacks CAP_SYS_RESOURCE (as in a container, or on
/// this CI machine) runc cannot raise them and every container fails with
/// "error setting rlimits". Limits everyone can set keep it working
/// everywhere.
const CONTAINERS_CONF: &str =
    "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n";

/// A `podman system service` of our own, stopped on drop.
struct Service {
    child: Child,
    dir: tempfile::TempDir,
}

impl Service {
    fn start() -> Service {
        let version = Command::new("podman").arg("--version").output();
        assert!(
            version.as_ref().is_ok_and(|o| o.status.success()),
            "podman is needed for this test and was not found or does not run \
             ({version:?}); .ci/run installs it with apt-get install podman"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("containers.conf"), CONTAINERS_CONF).expect("containers.conf");
        let socket = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .env("CONTAINERS_CONF", dir.path().join("containers.conf"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start podman system service");
        let service = Service { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !service.socket().exists() {
            assert!(
                Instant::now() < deadline,
                "podman system service did not create {} within 30 s",
                service.socket().display()
            );
            thread::sleep(Duration::from_millis(50));
        }
        service
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `podman ARGS` with this service's configuration; panics on failure.
    fn podman(&self, args: &[&str]) -> String {
        let out = Command::new("podman")
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run podman");
        check("podman", args, &out);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check(program: &str, args: &[&str], out: &Output) {
    assert!(
        out.status.success(),
        "{program} {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shell-less static app image, moved from Docker into Podman's
/// storage (`docker save | podman load`: no registry).
fn load_static_app(service: &Service) -> String {
    let image = static_app_image();
    let saved = docker(&["save", &image]);
    check("docker", &["save", &image], &saved);
    let mut load = Command::new("podman")
        .env(
            "CONTAINERS_CONF",
            service.dir.path().join("containers.conf"),
        )
        .args(["load", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run podman load");
    let mut stdin = load.stdin.take().expect("stdin");
    let tar = saved.stdout;
    let writer = thread::spawn(move || stdin.write_all(&tar));
    let out = load.wait_with_output().expect("podman load");
    writer
        .join()
        .expect("writer")
        .expect("write the image to podman load");
    check("podman", &["load"], &out);
    // "Loaded image: docker.io/library/nosh-fixture-static-app:KEY"
    // ("Loaded image(s): ..." in older versions).
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| {
            l.split_once(": ")
                .filter(|(k, _)| k.starts_with("Loaded image"))
        })
        .map(|(_, image)| image.trim().to_owned())
        .unwrap_or_else(|| panic!("podman load named no image: {out:?}"))
}

/// A Podman container, removed on drop.
struct PodContainer<'a> {
    service: &'a Service,
    name: String,
    id: String,
}

impl<'a> PodContainer<'a> {
    fn run(service: &'a Service, image: &str) -> PodContainer<'a> {
        Self::run_with(service, image, "app", &[])
    }

    /// `podman run -d` with `extra` options, named after `what`.
    fn run_with(service: &'a Service, image: &str, what: &str, extra: &[&str]) -> PodContainer<'a> {
        let name = format!("nosh-test-podman-{what}-{}", std::process::id());
        let mut args = vec!["run", "-d", "--name", &name, "--label", TEST_LABEL];
        args.extend_from_slice(extra);
        args.push(image);
        let id = service.podman(&args);
        let container = PodContainer { service, name, id };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state =
                service.podman(&["inspect", "--format", "{{.State.Status}}", &container.id]);
            if state == "running" {
                return container;
            }
            assert!(Instant::now() < deadline, "{} is {state}", container.name);
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sidecars of this container that still exist.
    fn sidecars(&self) -> String {
        self.service.podman(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.nosh.target={}", self.id),
        ])
    }
}

impl Drop for PodContainer<'_> {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.name])
            .output();
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what} within 10 s");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_session_against_podman_runs_as_the_app_and_leaves_nothing_behind() {
    let service = Service::start();
    let image = load_static_app(&service);
    let app = PodContainer::run(&service, &image);
    Nosh::new()
        .args(["-H", &service.host(), &app.name])
        .c("id; ps")
        .timeout(Duration::from_secs(120))
        .run()
        .success()
        .stdout_has("uid=65532")
        .stdout_has("/app/demo-app");
    wait_until("the sidecar is removed", || app.sidecars().is_empty());
    assert!(Path::new(&service.socket()).exists());
}

/// A target in its own user namespace (`podman run --uidmap`): the shell is
/// the app's uid inside it (65532) while the host sees the mapped one
/// (165532), through a sidecar and with `--direct`.
#[test]
fn a_podman_target_in_its_own_user_namespace_gets_the_apps_uid_inside_it() {
    let service = Service::start();
    let image = load_static_app(&service);
    let app = PodContainer::run_with(
        &service,
        &image,
        "userns",
        &["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"],
    );
    let pid = service.podman(&["inspect", "--format", "{{.State.Pid}}", &app.id]);
    let host_status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        host_status.contains("Uid:\t165532\t165532"),
        "the fixture app is not mapped: {host_status}"
    );
    Nosh::new()
        .args(["-H", &service.host(), &app.name])
        .c("id; cat /proc/self/status; cat /proc/self/uid_map")
        .timeout(Duration::from_secs(120))
        .run()
        .success()
        .stdout_has("uid=65532(nonroot) gid=65532(nonroot)")
        .stdout_has("Uid:\t65532\t65532\t65532\t65532")
        .stdout_has("CapEff:\t0000000000000000")
        .stdout_has("100000")
        .stdout_lacks("165532");
    wait_until("the sidecar is removed", || app.sidecars().is_empty());
    // And directly, Podman asked only for the PID and the config.
    Nosh::new()
        .args(["-H", &service.host(), "--direct", &app.name])
        .c("id; entrypoint")
        .run()
        .success()
        .stdout_has("uid=65532(nonroot) gid=65532(nonroot)")
        .stdout_has("/app/demo-app");
    assert!(app.sidecars().is_empty(), "--direct made a sidecar");
}
