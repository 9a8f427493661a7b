//! `containerd://` and `pod://` against a real containerd: a private
//! instance of Debian's `containerd` with its own root, state and socket
//! under a temp dir (the CRI plugin off), so it never touches the engine's.
//! Fixture images are imported with `docker save | ctr images import`
//! (nothing is pulled); targets are started with `ctr run`, with CRI labels
//! for the pod cases and `--uidmap`/`--gidmap` for a user namespace.
//! Runs as root; the binary under test is the static build (`$NOSH_BIN`).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Nosh, RunOutput, static_app_image, static_app_image_with};

/// A private containerd, stopped and cleaned up when dropped: tasks killed
/// and removed, containers removed, the daemon stopped, its mounts undone.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("nosh-containerd-")
            .tempdir()
            .unwrap();
        // A user-namespaced container's root (host uid 100000) walks
        // through here to its rootfs.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = dir.path().display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             [grpc]\n  address = \"{d}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n  disable = true\n"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd (Debian package `containerd`) is needed for these tests");
        let c = Containerd { dir, daemon };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c.sock().exists() || !c.ctr("default", &["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "containerd did not start: {}",
                std::fs::read_to_string(c.dir.path().join("containerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    fn ctr(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("-a")
            .arg(self.sock())
            .args(["-n", ns])
            .args(args)
            .output()
            .expect("ctr (Debian package `containerd`) is needed for these tests")
    }

    fn ctr_ok(&self, ns: &str, args: &[&str]) -> String {
        let out = self.ctr(ns, args);
        assert!(
            out.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker save IMAGE | ctr images import -`; returns the reference
    /// containerd knows it by.
    fn import(&self, ns: &str, image: &str) -> String {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Command::new("ctr")
            .arg("-a")
            .arg(self.sock())
            .args(["-n", ns, "images", "import", "-"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(save.wait().unwrap().success(), "docker save {image}");
        assert!(
            out.status.success(),
            "ctr images import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("docker.io/library/{image}")
    }

    /// `ctr run -d` with `extra` options; the task's host PID once running.
    fn run(&self, ns: &str, image: &str, id: &str, extra: &[&str], cmd: &[&str]) -> i32 {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[image, id]);
        args.extend_from_slice(cmd);
        self.ctr_ok(ns, &args);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let tasks = self.ctr_ok(ns, &["tasks", "ls"]);
            let pid = tasks.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&id) && f.get(2) == Some(&"RUNNING"))
                    .then(|| f[1].parse::<i32>().ok())
                    .flatten()
            });
            if let Some(pid) = pid {
                return pid;
            }
            assert!(Instant::now() < deadline, "task {id} did not run: {tasks}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `nosh TARGET --containerd-address SOCK -c LINE`.
    fn nosh(&self, target: &str, line: &str) -> RunOutput {
        Nosh::new()
            .arg(target)
            .arg("--containerd-address")
            .arg(self.sock().to_str().unwrap())
            .c(line)
            .run()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // 1. tasks, then containers, in every namespace.
        let namespaces = self.ctr("default", &["namespaces", "ls", "-q"]);
        for ns in String::from_utf8_lossy(&namespaces.stdout).lines() {
            let ids = self.ctr(ns, &["containers", "ls", "-q"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.ctr(ns, &["tasks", "kill", "-s", "SIGKILL", id]);
                let _ = self.ctr(ns, &["tasks", "rm", "-f", id]);
                let _ = self.ctr(ns, &["containers", "rm", id]);
            }
        }
        // 2. the daemon.
        let _ = Command::new("kill")
            .arg(self.daemon.id().to_string())
            .status();
        let _ = self.daemon.wait();
        // 3. whatever it left mounted under its root and state.
        let _ = Command::new("umount")
            .arg("-R")
            .arg("-l")
            .arg(self.dir.path().join("root"))
            .stderr(Stdio::null())
            .status();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let under = self.dir.path().to_str().unwrap_or_default().to_string();
        for point in mountinfo
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4))
            .filter(|p| p.starts_with(&under))
        {
            let _ = Command::new("umount").args(["-l", point]).status();
        }
    }
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn uid_of(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn containerd_target_by_id_prefix_or_nerdctl_name_gets_the_app_uid_and_its_spec() {
    let c = Containerd::start();
    let image = c.import("nosh-test", &static_app_image());
    let id = unique("web");
    c.run(
        "nosh-test",
        &image,
        &id,
        &["--label", "nerdctl/name=claims-api"],
        &[],
    );
    for target in [
        format!("containerd://{id}"),
        format!("containerd://nosh-test/{id}"),
        "containerd://claims-api".to_string(),
        format!("containerd://{}", &id[..id.len() - 1]),
    ] {
        c.nosh(&target, "id; cat /proc/self/status; entrypoint")
            .success()
            .stdout_has("uid=65532(nonroot) gid=65532(nonroot)")
            .stdout_has("CapEff:\t0000000000000000")
            .stdout_has("NoNewPrivs:\t1")
            // The OCI spec's args reached `entrypoint`.
            .stdout_has("/app/demo-app")
            .stdout_has("--port");
    }
    // `nosh doctor` takes the same target: the checklist as JSON.
    let out = Nosh::new()
        .args(["doctor", "--json", "--containerd-address"])
        .arg(c.sock().to_str().unwrap())
        .arg("containerd://claims-api")
        .run();
    assert!(matches!(out.code(), 0 | 1), "{}", out.stderr());
    let doc: serde_json::Value = serde_json::from_str(out.stdout()).expect("doctor --json");
    assert!(doc["findings"].is_array(), "{doc}");
}

#[test]
fn doctor_all_checks_every_running_container_of_a_containerd_namespace() {
    let c = Containerd::start();
    let ns = "nosh-all";
    let image = c.import(ns, &static_app_image());
    let healthy: Vec<String> = (0..2).map(|_| unique("web")).collect();
    for id in &healthy {
        c.run(
            ns,
            &image,
            id,
            &[],
            &["/app/demo-app", "--port", "8443", "--log", "-"],
        );
    }
    // containerd keeps no log nosh can read, so the broken one is broken
    // in a way that shows without the app's words: its image runs it as
    // root.
    let as_root = c.import(
        ns,
        &static_app_image_with(
            "static-app-root",
            &[
                "USER 0:0",
                "WORKDIR /app",
                r#"ENTRYPOINT ["/app/demo-app"]"#,
                r#"CMD ["--port", "8443", "--log", "-"]"#,
            ],
        ),
    );
    let broken = unique("broken");
    c.run(ns, &as_root, &broken, &[], &[]);
    // Not running: no row.
    let created = unique("created");
    c.ctr_ok(ns, &["containers", "create", &image, &created]);
    let out = Nosh::new()
        .args(["doctor", "--all", "--containerd-address"])
        .arg(c.sock().to_str().unwrap())
        .arg(format!("containerd://{ns}/"))
        .run();
    out.code_is(1);
    let lines: Vec<&str> = out.stdout().lines().collect();
    assert!(lines[0].starts_with("CONTAINER"), "{}", out.stdout());
    assert_eq!(
        lines.len(),
        5,
        "three rows, the header, the totals:\n{}",
        out.stdout()
    );
    let row = |id: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no row for {id}:\n{}", out.stdout()))
            .to_string()
    };
    for id in &healthy {
        assert!(row(id).ends_with(" -"), "{}", out.stdout());
    }
    assert!(row(&broken).ends_with("runs-as-root"), "{}", out.stdout());
    assert!(!out.stdout().contains(&created));
    // A namespace is named with its slash, or without; never an id.
    Nosh::new()
        .args(["doctor", "--all", "containerd://nosh-all/x"])
        .run()
        .code_is(125)
        .stderr_has("--all takes containerd://NAMESPACE/");
}

#[test]
fn containerd_errors_are_one_sentence_and_a_hint() {
    let c = Containerd::start();
    let image = c.import("nosh-test", &static_app_image());
    let a = unique("dup");
    let b = unique("dup");
    c.run("nosh-test", &image, &a, &[], &[]);
    c.run("nosh-test", &image, &b, &[], &[]);
    c.nosh("containerd://dup-", "id")
        .code_is(125)
        .stderr_has("nosh: 'dup-' matches more than one containerd container: nosh-test/")
        .stderr_has("hint: give more characters of the id");
    c.nosh("containerd://no-such-thing", "id")
        .code_is(125)
        .stderr_has("nosh: no such containerd container: no-such-thing")
        .stderr_has("hint: see the containers with `ctr -n NAMESPACE containers ls`");
    // A container with no task, and one whose task has exited.
    let created = unique("created");
    c.ctr_ok("nosh-test", &["containers", "create", &image, &created]);
    c.nosh(&format!("containerd://{created}"), "id")
        .code_is(125)
        .stderr_has(&format!(
            "nosh: container {created} is not running (state: no task (created or stopped))"
        ));
    let exited = unique("exited");
    c.ctr_ok(
        "nosh-test",
        &[
            "run",
            "-d",
            &image,
            &exited,
            "/app/demo-app",
            "--no-such-flag",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c
        .ctr_ok("nosh-test", &["tasks", "ls"])
        .lines()
        .any(|l| l.starts_with(&exited) && l.contains("STOPPED"))
    {
        assert!(Instant::now() < deadline, "the task did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    c.nosh(&format!("containerd://{exited}"), "id")
        .code_is(125)
        .stderr_has(&format!(
            "nosh: container {exited} is not running (state: stopped)"
        ));
    // No socket there, and a path that is no socket.
    let missing = c.dir.path().join("nope.sock");
    Nosh::new()
        .args([
            "containerd://x",
            "--containerd-address",
            missing.to_str().unwrap(),
        ])
        .c("id")
        .run()
        .code_is(125)
        .stderr_has(&format!(
            "nosh: containerd's socket {} does not exist",
            missing.display()
        ))
        .stderr_has("hint: is containerd running on this host?");
    let not_socket = c.dir.path().join("config.toml");
    Nosh::new()
        .args([
            "containerd://x",
            "--containerd-address",
            not_socket.to_str().unwrap(),
        ])
        .c("id")
        .run()
        .code_is(125)
        .stderr_has(&format!(
            "nosh: containerd at {}: cannot connect to containerd",
            not_socket.display()
        ))
        .stderr_has("hint: check that containerd runs");
    Nosh::new()
        .args(["pod://only-a-namespace", "-c", "id"])
        .run()
        .code_is(125)
        .stderr_has("nosh: 'pod://only-a-namespace' is not a containerd target")
        .stderr_has("hint: write containerd://[NAMESPACE/]ID or pod://NAMESPACE/POD[/CONTAINER]");
}

#[test]
fn pod_target_finds_its_app_container_and_never_the_sandbox() {
    let c = Containerd::start();
    let image = c.import("k8s.io", &static_app_image());
    let pod = |name: &str, kind: &str, container: Option<&str>| {
        let mut labels = vec![
            format!("io.kubernetes.pod.namespace=shop"),
            format!("io.kubernetes.pod.name={name}"),
            format!("io.cri-containerd.kind={kind}"),
        ];
        if let Some(cn) = container {
            labels.push(format!("io.kubernetes.container.name={cn}"));
        }
        labels
    };
    let start = |id: &str, labels: Vec<String>, port: &str| {
        let mut extra: Vec<String> = Vec::new();
        for l in labels {
            extra.push("--label".into());
            extra.push(l);
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        c.run(
            "k8s.io",
            &image,
            id,
            &extra,
            &["/app/demo-app", "--port", port, "--log", "/tmp/log"],
        )
    };
    // The sandbox (pause) container of pod api-1, then its app.
    start(&unique("sandbox"), pod("api-1", "sandbox", None), "9101");
    start(
        &unique("api"),
        pod("api-1", "container", Some("api")),
        "8443",
    );
    c.nosh("pod://shop/api-1", "id; entrypoint")
        .success()
        .stdout_has("uid=65532(nonroot)")
        .stdout_has("8443")
        .stdout_lacks("9101");
    // Two app containers: name one, or get the list.
    start(&unique("sandbox"), pod("two-1", "sandbox", None), "9102");
    start(
        &unique("app"),
        pod("two-1", "container", Some("app")),
        "8081",
    );
    start(
        &unique("envoy"),
        pod("two-1", "container", Some("envoy")),
        "8082",
    );
    c.nosh("pod://shop/two-1", "id")
        .code_is(125)
        .stderr_has("nosh: pod shop/two-1 has more than one container: app, envoy")
        .stderr_has("hint: name one: pod://shop/two-1/app");
    c.nosh("pod://shop/two-1/envoy", "entrypoint")
        .success()
        .stdout_has("8082")
        .stdout_lacks("8081");
    c.nosh("pod://shop/two-1/nope", "id")
        .code_is(125)
        .stderr_has(
            "nosh: pod shop/two-1 container nope: no such container in the pod (it has app, envoy)",
        );
    c.nosh("pod://shop/gone-1", "id")
        .code_is(125)
        .stderr_has("nosh: no such pod on this node: pod shop/gone-1");
}

#[test]
fn containerd_target_in_a_user_namespace_gets_the_apps_uid_inside_it() {
    let c = Containerd::start();
    let image = c.import("nosh-test", &static_app_image());
    let id = unique("userns");
    let pid = c.run(
        "nosh-test",
        &image,
        &id,
        &["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"],
        &[],
    );
    // The app is 165532 on the host, 65532 inside.
    assert!(uid_of(pid).starts_with("165532"), "{}", uid_of(pid));
    c.nosh(
        &format!("containerd://{id}"),
        "id; cat /proc/self/status; cat /proc/self/uid_map; ps",
    )
    .success()
    .stdout_has("uid=65532(nonroot) gid=65532(nonroot)")
    .stdout_has("Uid:\t65532\t65532\t65532\t65532")
    .stdout_has("CapEff:\t0000000000000000")
    .stdout_has("100000")
    .stdout_lacks("165532");
}

#[test]
fn files_copy_in_and_out_of_containerd_and_pod_targets_as_the_app() {
    let c = Containerd::start();
    let image = c.import("k8s.io", &static_app_image());
    let id = unique("files");
    c.run(
        "k8s.io",
        &image,
        &id,
        &[
            "--label",
            "io.kubernetes.pod.namespace=shop",
            "--label",
            "io.kubernetes.pod.name=files-1",
            "--label",
            "io.cri-containerd.kind=container",
            "--label",
            "io.kubernetes.container.name=app",
        ],
        &[],
    );
    let here = tempfile::tempdir().unwrap();
    let sent = here.path().join("sent.txt");
    std::fs::write(&sent, b"copied through containerd\n").unwrap();
    let cp = |src: &str, dest: &str| {
        Nosh::new()
            .args([
                "cp",
                "--containerd-address",
                c.sock().to_str().unwrap(),
                src,
                dest,
            ])
            .run()
    };
    cp(
        sent.to_str().unwrap(),
        &format!("containerd://k8s.io/{id}:/tmp/"),
    )
    .success();
    let back = here.path().join("back.txt");
    cp("pod://shop/files-1:/tmp/sent.txt", back.to_str().unwrap()).success();
    assert_eq!(
        std::fs::read(&back).unwrap(),
        b"copied through containerd\n"
    );
    // Written as the app, inside the container.
    c.nosh(&format!("containerd://{id}"), "ls -ln /tmp")
        .success()
        .stdout_has("65532 65532");
    // And a file the app may not write is refused with the reason.
    cp(
        sent.to_str().unwrap(),
        &format!("containerd://{id}:/var/log/demo/x"),
    )
    .code_is(1)
    .stderr_has("uid 65532 may not write /var/log/demo");
}

/// The fixture needs these two programs; a missing one fails the tests.
#[test]
fn containerd_and_ctr_are_installed() {
    for program in ["containerd", "ctr"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| Path::new(&d).join(program).exists()))
            .unwrap_or(false);
        assert!(found, "{program} (Debian package `containerd`) is needed");
    }
}
