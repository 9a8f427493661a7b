//! Replica mode against the real Docker Engine: containers that won't start
//! (a shell-form CMD in a shell-less image, an app that exits at start, one
//! that gave up restarting) and images get a replica whose PID 1 is the
//! toolbox; the original stays exactly as it was, and nothing nosh made is
//! left afterwards — after a clean exit, a SIGKILL of the client, or a
//! failure half-way through setting the replica up.

mod common;

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    Container, Nosh, TEST_LABEL, docker, docker_ok, gc_lock, nosh_bin, python_app_image,
    shell_form_image, static_app_image,
};
use serde_json::Value;

/// Waits up to 20 s until the container has stopped for good (exited, or
/// created and never started), so that its state no longer changes by
/// itself.
fn wait_stopped(c: &Container) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = c.inspect("{{.State.Status}}");
        if state == "exited" || state == "created" {
            return;
        }
        assert!(Instant::now() < deadline, "{} still {state}", c.name());
        thread::sleep(Duration::from_millis(100));
    }
}

/// What a replica session must not change about the original.
fn fingerprint(c: &Container) -> String {
    format!(
        "{}\n{}",
        c.inspect(
            "{{.State.Status}} {{.State.ExitCode}} {{.State.StartedAt}} {{.State.FinishedAt}} \
             {{.State.Pid}} {{.RestartCount}} {{json .HostConfig.RestartPolicy}} {{.Image}}"
        ),
        docker_ok(&["diff", c.id()])
    )
}

/// Containers and images nosh labelled for the original `target_id`.
fn leftovers(target_id: &str) -> Vec<String> {
    let filter = format!("label=io.nosh.target={target_id}");
    let containers = docker_ok(&["ps", "-aq", "--filter", &filter]);
    let images = docker_ok(&["images", "-q", "--filter", &filter]);
    containers
        .lines()
        .map(|l| format!("container {l}"))
        .chain(images.lines().map(|l| format!("image {l}")))
        .collect()
}

/// Polls until nothing nosh made for `target_id` is left (≤ 10 s).
#[track_caller]
fn assert_nothing_left(target_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(target_id);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind for {target_id}: {left:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

fn image_id(image: &str) -> String {
    docker_ok(&["image", "inspect", "--format", "{{.Id}}", image])
}

/// The shell-form fixture as `docker run -d` leaves it: created, exit 127.
fn shell_form_container() -> Container {
    let (c, out) = Container::try_run(&shell_form_image(), &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "docker run of the shell-form image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_stopped(&c);
    c
}

#[test]
fn a_shell_form_container_that_never_started_gets_a_replica_that_explains_it() {
    let c = shell_form_container();
    assert_eq!(c.exit_code(), 127);
    let before = fingerprint(&c);

    let test = Nosh::new().arg(c.name()).c("entrypoint --test").run();
    assert_ne!(test.code(), 0, "{test:?}");
    test.stdout_has("would not start")
        .stdout_has("but the image has no shell");
    assert_nothing_left(c.id());

    Nosh::new()
        .arg(c.name())
        .c("ls /app")
        .run()
        .success()
        .stdout_has("app.py");
    assert_nothing_left(c.id());
    assert_eq!(fingerprint(&c), before, "the original changed");
}

#[test]
fn doctor_in_a_replica_reports_the_shell_form_and_the_crash_with_its_exit_code() {
    let c = shell_form_container();
    let out = Nosh::new().args(["doctor", "--json", c.name()]).run();
    out.code_is(1);
    let v: Value =
        serde_json::from_str(out.stdout()).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"));
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(ids.contains(&"shell-form-entrypoint"), "{ids:?}");
    let crash = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "crash-loop")
        .unwrap_or_else(|| panic!("no crash-loop finding: {ids:?}"));
    let message = crash["message"].as_str().unwrap();
    assert!(
        message.contains("exit code 127") && message.contains("not found"),
        "{message}"
    );
    assert_nothing_left(c.id());
}

#[test]
fn entrypoint_test_in_a_replica_reproduces_a_crash_at_start_and_names_the_directory() {
    let c = Container::run(&python_app_image(), &["-e", "CRASH_ON_LOG_ERROR=1"]);
    wait_stopped(&c);
    assert_eq!(c.exit_code(), 1, "{}", c.logs());
    let before = fingerprint(&c);

    let out = Nosh::new().arg(c.name()).c("entrypoint --test").run();
    out.code_is(1)
        .stdout_has("running /usr/bin/python3.11 /app/app.py as uid 65532")
        .stdout_has("/var/log/claims-api is a directory root:root 0755");
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(
        all.contains("Permission denied: '/var/log/claims-api/app.log'"),
        "the app's own error is not reproduced: {out:?}"
    );
    assert_nothing_left(c.id());
    assert_eq!(fingerprint(&c), before, "the original changed");
}

#[test]
fn a_container_that_gave_up_restarting_keeps_its_restart_count() {
    let c = Container::run(
        &python_app_image(),
        &["-e", "CRASH_ON_LOG_ERROR=1", "--restart", "on-failure:2"],
    );
    // Restarted twice (after 100 and 200 ms of backoff), then left exited.
    c.wait_inspect("{{.RestartCount}} {{.State.Status}}", "2 exited");
    let before = fingerprint(&c);
    Nosh::new()
        .arg(c.name())
        .c("echo in-replica")
        .run()
        .success()
        .stdout_has("in-replica");
    let doctor = Nosh::new().args(["doctor", c.name()]).run();
    doctor.stdout_has("the container restarted 2 times; last exit code 1");
    assert_nothing_left(c.id());
    assert_eq!(fingerprint(&c), before, "the original changed");
}

#[test]
fn an_image_gets_a_replica_running_as_its_user() {
    let image = python_app_image();
    let id = image_id(&image);
    Nosh::new()
        .arg(&image)
        .c("id")
        .run()
        .success()
        .stdout_has("uid=65532(nonroot) gid=65532(nonroot)");
    Nosh::new()
        .args(["--image", &image])
        .c("id; pwd")
        .run()
        .success()
        .stdout_has("uid=65532(nonroot)")
        .stdout_has("/app");
    assert_nothing_left(&id);
}

#[test]
fn a_running_container_gets_a_replica_only_when_asked_and_keeps_running() {
    let c = Container::run(&static_app_image(), &[]);
    c.wait_running();
    let before = fingerprint(&c);
    let out = Nosh::new().args(["--replica", c.name()]).c("ps").run();
    out.success();
    let pid1 = out
        .stdout()
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or_else(|| panic!("no PID 1: {out:?}"));
    assert!(pid1.contains("/.nosh/nosh toolbox"), "{pid1}");
    assert!(!out.stdout().contains("demo-app"), "{out:?}");
    assert_nothing_left(c.id());
    assert_eq!(c.inspect("{{.State.Status}}"), "running");
    assert_eq!(fingerprint(&c), before, "the original changed");

    // Without --replica: the sidecar, beside the app.
    Nosh::new()
        .arg(c.name())
        .c("ps")
        .run()
        .success()
        .stdout_has("demo-app");
}

#[test]
fn nothing_is_left_after_the_client_of_a_replica_is_killed() {
    let c = shell_form_container();
    let before = fingerprint(&c);
    let mut client = silent_session(c.name());
    let filter = format!("label=io.nosh.target={}", c.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let running = docker_ok(&[
            "ps",
            "-q",
            "--filter",
            &filter,
            "--filter",
            "label=io.nosh.session=replica",
        ]);
        if !running.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no replica started");
        thread::sleep(Duration::from_millis(50));
    }
    // The helper's anonymous volume holds the binary; it must go too.
    let helper = docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        &filter,
        "--filter",
        "label=io.nosh.session=helper",
    ]);
    let volume = docker_ok(&[
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Name}}{{end}}",
        &helper,
    ]);
    assert!(!volume.is_empty(), "the helper {helper} has no volume");
    client.kill().expect("SIGKILL the client"); // no cleanup code of ours runs
    client.wait().expect("reap the client");
    assert_nothing_left(c.id());
    assert!(
        !docker(&["volume", "inspect", &volume]).status.success(),
        "the helper's volume {volume} is left"
    );
    assert_eq!(fingerprint(&c), before, "the original changed");
}

#[test]
fn a_replica_that_cannot_be_created_is_one_sentence_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("conf");
    std::fs::create_dir(&source).unwrap();
    let bind = format!("{}:/etc/claims", source.display());
    let (c, _) = Container::try_run(&shell_form_image(), &["-v", &bind], &[]);
    wait_stopped(&c);
    std::fs::remove_dir(&source).unwrap();
    let before = fingerprint(&c);
    let out = Nosh::new().arg(c.name()).c("id").run();
    out.code_is(125)
        .stderr_has(&format!(
            "nosh: failed to create the replica of {}",
            c.name()
        ))
        .stderr_has("bind source path does not exist")
        .stderr_has("\nhint: ");
    assert!(
        !source.exists(),
        "the missing bind source was created on the host"
    );
    assert_nothing_left(c.id());
    assert_eq!(fingerprint(&c), before, "the original changed");
}

/// The toolbox image nosh imports for this build (a replica of an image
/// makes sure it exists): `nosh-toolbox:VERSION-<hash>`.
fn current_toolbox() -> String {
    use sha2::{Digest, Sha256};
    Nosh::new()
        .args(["--image", &static_app_image()])
        .c("true")
        .run()
        .success();
    let digest = Sha256::digest(std::fs::read(nosh_bin()).expect("read nosh"));
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("nosh-toolbox:{}-{hash}", env!("CARGO_PKG_VERSION"))
}

#[test]
fn gc_removes_replica_leftovers_of_a_crashed_client() {
    let _gc = gc_lock();
    // As a client killed before it could tell its watchdog would leave them.
    let target = format!("0000000000000000replica{}", std::process::id());
    let labels = [
        "--label",
        TEST_LABEL,
        "--label",
        &format!("io.nosh.target={target}"),
    ];
    let toolbox = current_toolbox();
    let static_app = static_app_image();
    let mut helper = vec![
        "create",
        "--label",
        "io.nosh.session=helper",
        "-v",
        "/.nosh",
    ];
    helper.extend_from_slice(&labels);
    helper.push(&toolbox);
    let helper = docker_ok(&helper);
    let mut image_from = vec!["create"];
    image_from.extend_from_slice(&labels);
    image_from.push(&static_app);
    let scratch = docker_ok(&image_from);
    let tag = format!("nosh-replica:test-{}", std::process::id());
    let image = commit_as_nosh(&scratch, "replica-image", &target, &tag);
    let _ = docker(&["rm", "-f", &scratch]);

    let gc = Nosh::new().arg("gc").run();
    gc.success()
        .stdout_has(&format!("removed toolbox helper {}", &helper[..12]));
    let image_short = image.trim_start_matches("sha256:");
    gc.stdout_has(&format!("removed replica image {}", &image_short[..12]));
    assert_nothing_left(&target);
    assert!(
        !docker(&["inspect", &helper]).status.success(),
        "gc left {helper}"
    );
}

/// Removes what a test made by hand with `docker create`, `commit`,
/// `network create`, even when the test fails.
struct Made(Vec<Vec<String>>);

impl Drop for Made {
    fn drop(&mut self) {
        for command in &self.0 {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            let _ = docker(&args);
        }
    }
}

#[test]
fn gc_and_ls_leave_what_only_claims_to_be_nosh_s() {
    let _gc = gc_lock();
    // Any image can carry nosh's labels; a container made from one is not
    // nosh's to remove, nor one nosh made from another image.
    let pid = std::process::id();
    let target = format!("0000000000000000forged{pid}");
    let static_app = static_app_image();
    let scratch = docker_ok(&["create", "--label", TEST_LABEL, &static_app]);
    let forged_image = format!("nosh-test-forged:{pid}");
    commit_as_nosh(&scratch, "sidecar", &target, &forged_image);
    let claimed_replica_image = format!("nosh-test-forged-replica:{pid}");
    commit_as_nosh(&scratch, "replica-image", &target, &claimed_replica_image);
    let _made = Made(vec![
        vec!["rm".into(), "-f".into(), scratch.clone()],
        vec!["rmi".into(), forged_image.clone()],
        vec!["rmi".into(), claimed_replica_image.clone()],
    ]);
    // Created, never started, no date: exactly what gc removes when it is nosh's.
    let by_image = docker_ok(&["create", "--label", TEST_LABEL, &forged_image]);
    let by_labels = docker_ok(&[
        "create",
        "--label",
        TEST_LABEL,
        "--label",
        "io.nosh.session=helper",
        "--label",
        &format!("io.nosh.target={target}"),
        &static_app,
    ]);
    let _containers = Made(vec![vec![
        "rm".into(),
        "-f".into(),
        by_image.clone(),
        by_labels.clone(),
    ]]);
    let ls = Nosh::new().arg("ls").run();
    ls.success().stdout_lacks(&by_image[..12]);
    let gc = Nosh::new().arg("gc").run();
    gc.success();
    for id in [&by_image, &by_labels] {
        assert!(
            docker(&["inspect", id]).status.success(),
            "gc removed {id}, which only claims to be nosh's: {}",
            gc.stdout()
        );
    }
    assert!(
        docker(&["image", "inspect", &claimed_replica_image])
            .status
            .success(),
        "gc removed {claimed_replica_image}: {}",
        gc.stdout()
    );
}

/// `docker commit` of `container` as `tag`, labelled the way nosh labels
/// what it makes: session kind `session`, for the target `target`. The
/// image's id.
fn commit_as_nosh(container: &str, session: &str, target: &str, tag: &str) -> String {
    docker_ok(&[
        "commit",
        "--change",
        &format!("LABEL io.nosh.session={session}"),
        "--change",
        &format!("LABEL io.nosh.target={target}"),
        container,
        tag,
    ])
}

/// `nosh -T TARGET` with its input held open and its output ignored: a
/// session that lasts until the test closes its stdin or kills it.
fn silent_session(target: &str) -> Child {
    Command::new(nosh_bin())
        .args(["-T", target])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nosh")
}

/// Polls until the container nosh made for `target_id` with `session` runs.
fn running_session(target_id: &str, session: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let id = docker_ok(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=io.nosh.target={target_id}"),
            "--filter",
            &format!("label=io.nosh.session={session}"),
        ]);
        if !id.is_empty() {
            return id;
        }
        assert!(Instant::now() < deadline, "no {session} started");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_replica_image_the_user_tagged_during_the_session_survives_it() {
    let c = shell_form_container();
    let mut client = silent_session(c.name());
    running_session(c.id(), "replica");
    let image = docker_ok(&[
        "images",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=io.nosh.target={}", c.id()),
    ]);
    assert!(!image.is_empty(), "no replica image");
    let kept = format!("nosh-test-kept:{}", std::process::id());
    docker_ok(&["tag", &image, &kept]);
    let _made = Made(vec![vec!["rmi".into(), kept.clone()]]);
    drop(client.stdin.take());
    assert!(client.wait().expect("wait nosh").success());
    assert_eq!(
        image_id(&kept),
        image,
        "the image the user tagged was removed"
    );
    let ours = docker_ok(&[
        "images",
        "-q",
        "nosh-replica",
        "--filter",
        &format!("label=io.nosh.target={}", c.id()),
    ]);
    assert!(ours.is_empty(), "the nosh-replica tag is left: {ours}");
}

#[test]
fn a_replica_resolves_names_as_its_original_did() {
    // Never started (its shell-form CMD needs a shell): only a replica can
    // look inside.
    let (c, _) = Container::try_run(
        &shell_form_image(),
        &[
            "--add-host",
            "db.internal:10.1.2.3",
            "--dns-search",
            "corp.example",
        ],
        &[],
    );
    wait_stopped(&c);
    let ran = Nosh::new()
        .arg(c.name())
        .c("cat /etc/hosts /etc/resolv.conf; resolve db.internal")
        .run();
    ran.success()
        .stdout_has("10.1.2.3\tdb.internal")
        .stdout_has("search corp.example");
    assert_nothing_left(c.id());
}

#[test]
fn a_replica_is_as_confined_as_its_original_and_invisible_to_its_neighbours() {
    let pid = std::process::id();
    let net = format!("nosh-test-net-{pid}");
    docker_ok(&["network", "create", "--label", TEST_LABEL, &net]);
    let original = docker_ok(&[
        "create",
        "--label",
        TEST_LABEL,
        "--label",
        "traefik.enable=true",
        "--label",
        "com.docker.compose.service=api",
        "--pids-limit",
        "64",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--network",
        &net,
        "--network-alias",
        "api-alias",
        &static_app_image(),
    ]);
    let _made = Made(vec![
        vec!["rm".into(), "-f".into(), original.clone()],
        vec!["network".into(), "rm".into(), net.clone()],
    ]);
    let mut client = silent_session(&original);
    let replica = running_session(&original, "replica");
    let facts = docker_ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} \
         traefik={{index .Config.Labels \"traefik.enable\"}} \
         service={{index .Config.Labels \"com.docker.compose.service\"}} \
         {{json .NetworkSettings.Networks}}",
        &replica,
    ]);
    drop(client.stdin.take());
    let _ = client.wait();
    assert!(
        facts.starts_with("64 67108864 500000000 traefik= service= "),
        "{facts}"
    );
    assert!(
        facts.contains(&net),
        "the replica left the original's network: {facts}"
    );
    assert!(
        !facts.contains("api-alias"),
        "the replica answers to the original's alias: {facts}"
    );
    assert_nothing_left(&original);
}
