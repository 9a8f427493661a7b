//! The fixture images are what the other integration tests stand on: prove
//! that each one is what it claims to be before anything is tested against it.

mod common;

use common::*;

/// Names of programs that would make an image "have a shell".
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "busybox"];

fn shells_in(image: &str) -> Vec<String> {
    image_files(image)
        .into_iter()
        .filter(|p| {
            p.rsplit('/')
                .next()
                .is_some_and(|name| SHELLS.contains(&name))
        })
        .collect()
}

#[test]
fn static_app_serves_http_on_8443_as_nonroot() {
    let app = Container::run(&static_app_image(), &[]);
    app.wait_running();
    let response = http_get(app.wait_port(8443));
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("\r\n\r\nok\n"), "{response}");
    assert_eq!(proc_uids(app.host_pid()), [NONROOT; 4]);
    let logs = app.logs();
    assert!(
        logs.contains(
            "demo-app: cannot open log file /var/log/demo/app.log: \
             Permission denied (os error 13); logging to stdout"
        ),
        "{logs}"
    );
}

#[test]
fn static_app_image_has_no_shell_and_its_traps() {
    let image = static_app_image();
    assert_eq!(shells_in(&image), Vec::<String>::new());
    let files = image_files(&image);
    for expected in [
        "/app/demo-app",
        "/app/data.txt",
        "/etc/passwd",
        "/etc/group",
        "/etc/secret.txt",
        "/home/nonroot",
        "/var/log/demo",
        "/tmp",
    ] {
        assert!(
            files.iter().any(|f| f.trim_end_matches('/') == expected),
            "{expected} missing from {files:?}"
        );
    }
    assert!(
        files.iter().any(|f| f.contains('\x1b')),
        "no file name with an escape byte in {files:?}"
    );
    assert_eq!(
        docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Entrypoint}}",
            &image
        ]),
        r#"65532:65532 /app ["/app/demo-app"]"#
    );
}

#[test]
fn docker_exec_sh_fails_in_the_static_app() {
    let app = Container::run(&static_app_image(), &[]);
    app.wait_running();
    let out = docker(&["exec", app.name(), "sh", "-c", "true"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    // The 20.10 CLI prints the runtime's error on stdout.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(r#"exec: "sh": executable file not found"#),
        "{said}"
    );
}

#[test]
fn demo_app_options_add_a_child_a_data_file_and_udp() {
    let app = Container::run_cmd(
        &static_app_image(),
        &[],
        &[
            "--port",
            "9000",
            "--data",
            "/app/data.txt",
            "--child",
            "--udp",
        ],
    );
    app.wait_running();
    app.wait_port(9000);
    assert_eq!(app.wait_children(1).len(), 1, "{}", app.logs());
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", app.host_pid()))
        .expect("fd dir")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.display().to_string())
        .collect();
    assert!(fds.iter().any(|f| f == "/app/data.txt"), "{fds:?}");
    assert_eq!(
        fds.iter().filter(|f| f.starts_with("socket:")).count(),
        2,
        "{fds:?}"
    );
}

#[test]
fn demo_app_stops_at_once_on_sigterm() {
    let app = Container::run(&static_app_image(), &[]);
    app.wait_running();
    let start = std::time::Instant::now();
    docker_ok(&["stop", "--time", "5", app.name()]);
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(app.exit_code(), 0);
}

#[test]
fn python_app_runs_as_nonroot_with_its_sockets_and_child() {
    let app = Container::run(&python_app_image(), &[]);
    app.wait_running();
    let response = http_get(app.wait_port(8080));
    assert!(response.ends_with("{\"status\":\"ok\"}\n"), "{response}");
    let pid = app.host_pid();
    assert_eq!(proc_uids(pid), [NONROOT; 4]);
    let children = app.wait_children(1);
    assert_eq!(children.len(), 1, "{}", app.logs());
    assert_eq!(proc_uids(children[0]), [NONROOT; 4]);
    let logs = app.logs();
    assert!(
        logs.contains("claims-api: cannot open log file: [Errno 13] Permission denied: '/var/log/claims-api/app.log'"),
        "{logs}"
    );
    let udp = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp socket");
    udp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    udp.send_to(b"ping", format!("{}:8081", app.ip()))
        .expect("send");
    let mut buf = [0u8; 16];
    let n = udp.recv(&mut buf).expect("udp answer");
    assert_eq!(&buf[..n], b"ok\n");
}

#[test]
fn python_app_crashes_on_the_log_error_when_asked() {
    let app = Container::run(&python_app_image(), &["-e", "CRASH_ON_LOG_ERROR=1"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.inspect("{{.State.Status}}") != "exited" {
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(app.exit_code(), 1);
}

#[test]
fn python_images_have_no_shell() {
    assert_eq!(shells_in(&python_app_image()), Vec::<String>::new());
    let with_ca = python_app_image_with(PythonOpts {
        ca_certificates: true,
    });
    let files = image_files(&with_ca);
    assert!(
        files
            .iter()
            .any(|f| f == "/etc/ssl/certs/ca-certificates.crt")
    );
    assert_eq!(shells_in(&with_ca), Vec::<String>::new());
}

#[test]
fn docker_exec_sh_fails_in_the_python_app() {
    let app = Container::run(&python_app_image(), &[]);
    app.wait_running();
    let out = docker(&["exec", app.name(), "sh"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
}

#[test]
fn shell_form_image_exits_127() {
    let (app, out) = Container::try_run(&shell_form_image(), &[], &[]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert_eq!(app.exit_code(), 127);
}

#[test]
fn toolbox_image_holds_only_nosh() {
    let image = toolbox_image();
    assert_eq!(image_files(&image), ["/nosh"]);
    let out = docker(&["run", "--rm", "--label", TEST_LABEL, &image, "--help"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("--pid"));
}

#[test]
fn sidecar_starts_beside_a_running_target() {
    let app = Container::run(&static_app_image(), &[]);
    app.wait_running();
    Nosh::sidecar(&app)
        .arg("--help")
        .run()
        .success()
        .stdout_has("--pid");
}
