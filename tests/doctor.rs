//! `doctor` against fixtures that reproduce the classic hardened-image
//! migration failures, and a clean one that must raise no error.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{
    Container, Nosh, PythonOpts, cpp_app_image, cpp_app_image_needing_a_newer_glibc, doctor,
    findings, python_app_image, python_app_image_with, static_app_image, touches_system_dir,
    wait_exited,
};
use serde_json::Value;

#[test]
fn python_service_logging_to_a_root_owned_directory_is_diagnosed() {
    let t = Container::run(&python_app_image(), &[]);
    t.wait_port(8080);
    let (code, v) = doctor(&t, &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["target"], t.name());
    let unwritable = findings(&v, "unwritable-path");
    let hit = unwritable
        .iter()
        .find(|f| f["severity"] == "error")
        .unwrap_or_else(|| panic!("no unwritable-path error: {v:#}"));
    assert_eq!(hit["evidence"]["directory"], "/var/log/claims-api");
    assert_eq!(hit["evidence"]["deciding"]["path"], "/var/log/claims-api");
    assert!(
        hit["fix"]
            .as_str()
            .unwrap()
            .contains("chown 65532:65532 /var/log/claims-api")
    );
    let logs = findings(&v, "logs-to-file");
    assert!(
        logs.iter()
            .any(|f| f["evidence"]["directory"] == "/var/log/claims-api"),
        "{v:#}"
    );
    // Every finding carries the stable fields.
    for f in v["findings"].as_array().unwrap() {
        for key in ["id", "severity", "message", "evidence", "fix"] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
    }
}

#[test]
fn port_80_fails_under_the_kubernetes_sysctl_and_warns_under_docker() {
    // Under --sysctl ip_unprivileged_port_start=1024 the app cannot even
    // bind port 80 as 65532: the container dies. The port is still exposed
    // in the configuration, so a sidecar on a running twin judges it: the
    // twin listens on 8080 but exposes 80.
    let strict = Container::run(
        &python_app_image(),
        &[
            "-e",
            "PORT=8080",
            "--expose",
            "80",
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=1024",
        ],
    );
    strict.wait_port(8080);
    let (_, v) = doctor(&strict, &[]);
    let p: Vec<_> = findings(&v, "privileged-port");
    assert!(
        p.iter()
            .any(|f| f["severity"] == "error" && f["evidence"]["port"] == 80),
        "{v:#}"
    );

    let docker_default = Container::run(&python_app_image(), &["-e", "PORT=80"]);
    docker_default.wait_port(80);
    let (_, v) = doctor(&docker_default, &[]);
    let p = findings(&v, "privileged-port");
    assert_eq!(p.len(), 1, "{v:#}");
    assert_eq!(p[0]["severity"], "warn");
    assert_eq!(p[0]["evidence"]["ip_unprivileged_port_start"], 0);
    let (code, v) = doctor(&docker_default, &["--prod-like"]);
    assert_eq!(code, 1);
    let p = findings(&v, "privileged-port");
    assert_eq!(p[0]["severity"], "error", "{v:#}");
    assert_eq!(v["prod_like"], true);
}

#[test]
fn clean_service_has_no_error_findings() {
    let image = python_app_image_with(PythonOpts {
        ca_certificates: true,
    });
    let t = Container::run(&image, &["-e", "LOG_FILE=-"]);
    t.wait_port(8080);
    let (code, v) = doctor(&t, &[]);
    let errors: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(errors.is_empty(), "{v:#}");
    assert_eq!(code, 0);
    assert!(findings(&v, "missing-ca-bundle").is_empty(), "{v:#}");
}

#[test]
fn root_user_and_latest_tag_are_reported() {
    let base = static_app_image();
    let latest = format!("{}:latest", base.split(':').next().unwrap());
    common::docker_ok(&["tag", &base, &latest]);
    let t = Container::run(&latest, &["--user", "0:0"]);
    t.wait_running();
    let (code, v) = doctor(&t, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&v, "runs-as-root")[0]["severity"],
        "error",
        "{v:#}"
    );
    assert_eq!(findings(&v, "image-tag")[0]["severity"], "warn", "{v:#}");
}

#[test]
fn human_output_groups_findings_by_severity() {
    let t = Container::run(&python_app_image(), &[]);
    t.wait_port(8080);
    let out = Nosh::new().arg("doctor").arg(t.name()).run();
    out.code_is(1);
    let text = out.stdout();
    let first_warn = text.find("WARN").unwrap();
    let last_error = text.rfind("ERROR").unwrap();
    assert!(last_error < first_warn, "{text}");
    assert!(text.contains("error(s)"));
}

#[test]
fn a_cpp_program_without_libstdcxx_is_a_missing_library_named_with_its_requester() {
    let (c, _) = Container::try_run(&cpp_app_image(false), &[], &[]);
    wait_exited(&c);
    assert_eq!(c.exit_code(), 127, "{}", c.logs());
    assert!(c.logs().contains("libstdc++.so.6"), "{}", c.logs());
    let (code, v) = doctor(&c, &[]);
    assert_eq!(code, 1, "{v:#}");
    let missing = findings(&v, "missing-library");
    assert_eq!(missing.len(), 1, "{v:#}");
    let m = missing[0];
    assert_eq!(m["severity"], "error");
    assert_eq!(m["evidence"]["library"], "libstdc++.so.6");
    assert_eq!(m["evidence"]["needed_by"], "/usr/bin/ninja");
    let fix = m["fix"].as_str().unwrap();
    assert!(
        fix.contains("COPY --from=build /usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
        "{fix}"
    );
    // The crash is explained by the library, from the loader's own line.
    let crash = findings(&v, "crash-loop");
    let message = crash[0]["message"].as_str().unwrap();
    assert!(
        message.contains("exit code 127") && message.contains("could not find libstdc++.so.6"),
        "{message}"
    );
    assert!(!message.contains("missing shell"), "{message}");
    // entrypoint and file list the libraries, found or missing.
    let out = Nosh::new()
        .arg(c.name())
        .c("entrypoint; file /usr/bin/ninja")
        .run();
    out.stdout_has("libstdc++.so.6 => MISSING (needed by /usr/bin/ninja)")
        .stdout_has("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6")
        .stdout_has("error libstdc++.so.6, needed by /usr/bin/ninja, is not in the image");
    // entrypoint --test names it as the cause without running into 127.
    let out = Nosh::new().arg(c.name()).c("entrypoint --test").run();
    out.code_is(127)
        .stdout_has("cause: libstdc++.so.6, needed by /usr/bin/ninja, is not in the image");
}

#[test]
fn a_program_built_against_a_newer_glibc_is_named_with_the_version_it_needs() {
    let (c, _) = Container::try_run(&cpp_app_image_needing_a_newer_glibc(), &[], &[]);
    wait_exited(&c);
    assert!(c.logs().contains("GLIBC_2.99' not found"), "{}", c.logs());
    let (code, v) = doctor(&c, &[]);
    assert_eq!(code, 1, "{v:#}");
    let f = findings(&v, "missing-library");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["evidence"]["version"], "GLIBC_2.99");
    assert_eq!(f[0]["evidence"]["library"], "libc.so.6");
    assert_eq!(f[0]["evidence"]["needed_by"], "/usr/bin/ninja");
    assert_eq!(f[0]["evidence"]["newest_defined"], "GLIBC_2.36");
    let crash = findings(&v, "crash-loop");
    let message = crash[0]["message"].as_str().unwrap();
    assert!(
        message.contains("the dynamic loader refused") && message.contains("GLIBC_2.99"),
        "{message}"
    );
    let out = Nosh::new().arg(c.name()).c("file /usr/bin/ninja").run();
    out.stdout_has(
        "GLIBC_2.99 => MISSING in /lib/x86_64-linux-gnu/libc.so.6 (needed by /usr/bin/ninja)",
    );
}

#[test]
fn a_cpp_program_with_its_runtime_has_no_missing_library() {
    let (c, _) = Container::try_run(&cpp_app_image(true), &[], &[]);
    wait_exited(&c);
    assert_eq!(c.exit_code(), 0, "{}", c.logs());
    let (code, v) = doctor(&c, &[]);
    assert!(findings(&v, "missing-library").is_empty(), "{v:#}");
    assert_eq!(code, 0, "no false error on the complete image: {v:#}");
    let out = Nosh::new()
        .arg(c.name())
        .c("file --json /usr/bin/ninja")
        .run();
    let rows: Value = serde_json::from_str(out.stdout()).unwrap();
    let needed = rows[0]["libraries"]["needed"].as_array().unwrap();
    for lib in ["libstdc++.so.6", "libc.so.6", "libgcc_s.so.1", "libm.so.6"] {
        let n = needed
            .iter()
            .find(|n| n["name"] == lib)
            .unwrap_or_else(|| panic!("{lib} not listed: {rows:#}"));
        assert!(n["path"].is_string(), "{lib} not found: {rows:#}");
    }
}

#[test]
fn a_root_owned_working_directory_gets_a_workdir_the_app_owns_never_a_chown_of_root() {
    // The app writes `app.log` relative to its working directory `/`.
    let t = Container::run(&python_app_image(), &["-w", "/", "-e", "LOG_FILE=app.log"]);
    t.wait_port(8080);
    let (code, v) = doctor(&t, &[]);
    assert_eq!(code, 1, "{v:#}");
    let f = findings(&v, "workdir-not-writable");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["evidence"]["path"], "/app.log");
    assert_eq!(f[0]["evidence"]["directory"], "/");
    assert_eq!(f[0]["evidence"]["deciding"]["path"], "/");
    assert!(
        f[0]["evidence"]["log"]
            .as_str()
            .unwrap()
            .contains("Permission denied: 'app.log'"),
        "{v:#}"
    );
    let fix = f[0]["fix"].as_str().unwrap();
    assert!(fix.contains("WORKDIR /app/data"), "{fix}");
    assert!(
        fix.contains("RUN mkdir -p /app/data && chown 65532:65532 /app/data"),
        "{fix}"
    );
    for f in v["findings"].as_array().unwrap() {
        let fix = f["fix"].as_str().unwrap();
        assert_eq!(touches_system_dir(fix), None, "{f:#}");
    }
}

#[test]
fn a_missing_log_directory_is_created_for_the_app_not_its_parent_chowned() {
    let t = Container::run(
        &python_app_image(),
        &["-e", "LOG_FILE=/var/log/claims/app.log"],
    );
    t.wait_port(8080);
    let (code, v) = doctor(&t, &[]);
    assert_eq!(code, 1, "{v:#}");
    let f: Vec<_> = findings(&v, "unwritable-path")
        .into_iter()
        .filter(|f| f["evidence"]["directory"] == "/var/log/claims")
        .collect();
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(f[0]["evidence"]["exists"], false);
    let fix = f[0]["fix"].as_str().unwrap();
    assert!(
        fix.contains("RUN mkdir -p /var/log/claims && chown 65532:65532 /var/log/claims"),
        "{fix}"
    );
    for f in v["findings"].as_array().unwrap() {
        let fix = f["fix"].as_str().unwrap();
        assert_eq!(touches_system_dir(fix), None, "{f:#}");
    }
}

#[test]
fn human_evidence_is_the_deciding_path_and_the_log_line_not_json() {
    let t = Container::run(&python_app_image(), &[]);
    t.wait_port(8080);
    let out = Nosh::new().arg("doctor").arg(t.name()).run();
    out.code_is(1)
        .stdout_has("evidence: /var/log/claims-api is root:root 0755")
        .stdout_has("evidence: log: claims-api: cannot open log file: [Errno 13] Permission denied: '/var/log/claims-api/app.log'")
        .stdout_lacks("evidence: {");
}

fn wait_health(c: &Container, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.inspect("{{.State.Health.Status}}") != status {
        assert!(
            Instant::now() < deadline,
            "{} never {status}: {}",
            c.name(),
            c.inspect("{{json .State.Health}}")
        );
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_healthcheck_that_needs_a_shell_and_curl_cannot_run_and_says_so_with_the_probe_output() {
    let t = Container::run(
        &python_app_image_with(PythonOpts {
            ca_certificates: true,
        }),
        &[
            "-e",
            "LOG_FILE=-",
            "--health-cmd",
            "curl -fsS http://localhost:8080/",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
    );
    t.wait_port(8080);
    wait_health(&t, "unhealthy");
    let (code, v) = doctor(&t, &[]);
    assert_eq!(code, 1, "{v:#}");
    let f = findings(&v, "healthcheck-cannot-run");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(f[0]["evidence"]["missing"], "/bin/sh");
    assert_eq!(f[0]["evidence"]["probe_program"], "curl");
    assert_eq!(f[0]["evidence"]["health_status"], "unhealthy");
    assert!(
        f[0]["evidence"]["log"]
            .as_str()
            .unwrap()
            .contains("/bin/sh"),
        "{v:#}"
    );
    let fix = f[0]["fix"].as_str().unwrap();
    assert!(
        fix.contains("HEALTHCHECK NONE") && fix.contains("HEALTHCHECK CMD [\"/healthcheck\"]"),
        "{fix}"
    );
    assert!(!fix.contains("apt-get install curl"), "{fix}");
}

#[test]
fn a_time_zone_without_tzdata_is_reported_and_utc_is_not() {
    let image = python_app_image_with(PythonOpts {
        ca_certificates: true,
    });
    let paris = Container::run(&image, &["-e", "LOG_FILE=-", "-e", "TZ=Europe/Paris"]);
    let utc = Container::run(&image, &["-e", "LOG_FILE=-", "-e", "TZ=UTC"]);
    paris.wait_port(8080);
    utc.wait_port(8080);
    let (code, v) = doctor(&paris, &[]);
    assert_eq!(code, 0, "a warning only: {v:#}");
    let f = findings(&v, "missing-tzdata");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "warn");
    assert_eq!(
        f[0]["evidence"]["looked_at"],
        "/usr/share/zoneinfo/Europe/Paris"
    );
    assert!(
        f[0]["fix"]
            .as_str()
            .unwrap()
            .contains("COPY --from=build /usr/share/zoneinfo/Europe/Paris"),
        "{v:#}"
    );
    let (_, v) = doctor(&utc, &[]);
    assert!(findings(&v, "missing-tzdata").is_empty(), "{v:#}");
}

#[test]
fn files_owned_by_65532_while_the_app_runs_as_another_uid_are_a_uid_assumption() {
    // /app/data.db belongs to 65532; the app, run as 1000, dies opening it.
    let c = Container::run(
        &python_app_image(),
        &["--user", "1000:1000", "-e", "LOG_FILE=-"],
    );
    wait_exited(&c);
    assert!(
        c.logs().contains("Permission denied: '/app/data.db'"),
        "{}",
        c.logs()
    );
    let (code, v) = doctor(&c, &[]);
    assert_eq!(code, 1, "{v:#}");
    let f = findings(&v, "uid-assumption");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["evidence"]["path"], "/app/data.db");
    assert_eq!(f[0]["evidence"]["owner_uid"], 65532);
    assert_eq!(f[0]["evidence"]["app_uid"], 1000);
    let fix = f[0]["fix"].as_str().unwrap();
    assert!(fix.contains("USER 65532:65532"), "{fix}");
    assert!(fix.contains("chown -R 1000:1000 /app/data.db"), "{fix}");
}

/// A FROM-scratch image whose ENTRYPOINT is a `docker-entrypoint.sh` for
/// /bin/sh, as copied from a non-hardened image; there is no shell.
fn entrypoint_script_image() -> String {
    let mut fs = common::Rootfs::new();
    fs.file(
        "docker-entrypoint.sh",
        b"#!/bin/sh\nset -e\nexec /app/server \"$@\"\n",
        0,
        0,
        0o755,
    )
    .file("etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n", 0, 0, 0o644)
    .dir("tmp", 0, 0, 0o1777);
    let tar = fs.into_tar();
    let changes = [
        "USER 65532:65532",
        r#"ENTRYPOINT ["/docker-entrypoint.sh"]"#,
    ];
    let key = common::short_hash(&[&tar, changes.join("\n").as_bytes()]);
    common::ensure_image("entrypoint-script", &key, &changes, || tar)
}

#[test]
fn a_docker_entrypoint_script_without_a_shell_is_a_script_that_needs_a_shell() {
    let (c, _) = Container::try_run(&entrypoint_script_image(), &[], &[]);
    wait_exited(&c);
    let (code, v) = doctor(&c, &[]);
    assert_eq!(code, 1, "{v:#}");
    let f = findings(&v, "script-needs-shell");
    assert_eq!(f.len(), 1, "{v:#}");
    let message = f[0]["message"].as_str().unwrap();
    assert!(
        message.contains("/docker-entrypoint.sh is a script for /bin/sh")
            && message.contains("docker-entrypoint.sh copied from a non-hardened image"),
        "{message}"
    );
    let fix = f[0]["fix"].as_str().unwrap();
    assert!(fix.contains("ENTRYPOINT [\"/path/to/app\""), "{fix}");
    assert!(findings(&v, "missing-library").is_empty(), "{v:#}");
}
