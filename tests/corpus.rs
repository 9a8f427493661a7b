//! `doctor` judged on real software: Debian 12 services in their stock
//! configuration, moved as-is into hardened-shape images (tests/common/
//! corpus.rs). Each test states the real cause, and asserts that doctor
//! names it as the error (crash-loop pointing to it), with its evidence
//! and a fix that works: the next step of the fixture applies exactly that
//! fix, and then fails on the next real cause or runs. The healthy ones
//! run with `--read-only --cap-drop ALL` and must raise no error.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::corpus::{self, *};
use common::{
    Container, Nosh, assert_no_fix_touches_a_system_dir, cpp_app_image, doctor, findings,
    python_app_image, wait_exited,
};
use serde_json::Value;

/// Starts `image` with `args` and waits for it to exit.
fn exited(image: &str, args: &[&str]) -> Container {
    let (c, _) = Container::try_run(image, args, &[]);
    wait_exited(&c);
    c
}

/// The error findings' ids, sorted.
fn errors(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The one finding `id` about `subject`, an error, named by crash-loop as
/// the cause; no other error than it and crash-loop; no fix that touches
/// a system directory.
#[track_caller]
fn the_cause<'a>(v: &'a Value, id: &str, subject: &str) -> &'a Value {
    let found: Vec<&Value> = findings(v, id)
        .into_iter()
        .filter(|f| f["subject"] == subject)
        .collect();
    assert_eq!(found.len(), 1, "one {id} finding for {subject}: {v:#}");
    let f = found[0];
    assert_eq!(f["severity"], "error", "{v:#}");
    assert_eq!(f["subject"], subject, "{v:#}");
    let crash = findings(v, "crash-loop");
    assert_eq!(crash.len(), 1, "{v:#}");
    assert_eq!(crash[0]["evidence"]["cause"], id, "{v:#}");
    assert_eq!(crash[0]["evidence"]["cause_subject"], subject, "{v:#}");
    let mut expected = vec!["crash-loop".to_string(), id.to_string()];
    expected.sort();
    assert_eq!(errors(v), expected, "no false errors: {v:#}");
    assert_no_fix_touches_a_system_dir(v);
    f
}

fn fix_of(f: &Value) -> &str {
    f["fix"].as_str().unwrap()
}

fn log_of(f: &Value) -> &str {
    f["evidence"]["log"].as_str().unwrap_or_default()
}

/// Waits until `c` answers HTTP on `port` with a 200.
fn serves(c: &Container, port: u16) {
    let addr = c.wait_port(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = common::http_get(addr);
        if response.starts_with("HTTP/1.1 200") {
            return;
        }
        assert!(Instant::now() < deadline, "{response}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `image` with `--read-only --cap-drop ALL` and `tmpfs` mounts
/// (`DIR:uid=65532,gid=65532` each), waits until it runs.
fn read_only(image: &str, tmpfs: &[&str], extra: &[&str]) -> Container {
    let mut args = vec!["--read-only", "--cap-drop", "ALL"];
    let mounts: Vec<String> = tmpfs
        .iter()
        .map(|d| format!("{d}:uid=65532,gid=65532"))
        .collect();
    for m in &mounts {
        args.extend(["--tmpfs", m.as_str()]);
    }
    args.extend(extra);
    let c = Container::run(image, &args);
    c.wait_running();
    c
}

/// doctor and doctor --prod-like both exit 0 with no error finding.
#[track_caller]
fn healthy(c: &Container) {
    for extra in [&[][..], &["--prod-like"][..]] {
        let (code, v) = doctor(c, extra);
        assert_eq!(errors(&v), Vec::<String>::new(), "{extra:?}: {v:#}");
        assert_eq!(code, 0, "{v:#}");
    }
}

// ---------------------------------------------------------------------------
// nginx: a web server whose stock config writes below /var/lib, /var/log
// and /run, all root-owned.
// ---------------------------------------------------------------------------

#[test]
fn nginx_creating_its_temp_dirs_in_root_owned_var_lib_nginx_gets_that_directory_not_one_subdir() {
    // Real cause: /var/lib/nginx is root's; nginx creates body, proxy,
    // fastcgi, uwsgi and scgi in it. Creating only body moves the crash to
    // proxy: the app's own parent directory is the fix.
    let c = exited(&corpus::nginx(0, false), &[]);
    assert_eq!(c.exit_code(), 1, "{}", c.logs());
    let (code, v) = doctor(&c, &[]);
    assert_eq!(code, 1);
    let f = the_cause(&v, "unwritable-path", "/var/lib/nginx");
    assert!(
        log_of(f).contains("mkdir() \"/var/lib/nginx/body\" failed (13: Permission denied)"),
        "{f:#}"
    );
    assert_eq!(f["evidence"]["deciding"]["path"], "/var/lib/nginx", "{f:#}");
    assert!(fix_of(f).contains(FIX_NGINX_TEMP), "{f:#}");
    assert!(!fix_of(f).contains("/var/lib/nginx/body"), "{f:#}");
    // The config reference in nginx's warning is not a path to write.
    assert!(
        !v.to_string().contains("chown 65532:65532 /etc/nginx"),
        "{v:#}"
    );
}

#[test]
fn nginx_with_its_temp_dir_given_fails_next_on_its_log_directory_which_it_gets() {
    let c = exited(&corpus::nginx(1, false), &[]);
    assert!(
        !c.logs().contains("/var/lib/nginx"),
        "the first fix works: {}",
        c.logs()
    );
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "unwritable-path", "/var/log/nginx");
    assert_eq!(f["evidence"]["path"], "/var/log/nginx/error.log", "{f:#}");
    assert!(fix_of(f).starts_with("log to stdout/stderr"), "{f:#}");
    assert!(fix_of(f).contains(FIX_NGINX_LOGS), "{f:#}");
}

#[test]
fn nginx_with_its_logs_given_fails_next_on_its_pid_file_and_gets_a_directory_of_its_own_not_run() {
    let c = exited(&corpus::nginx(2, false), &[]);
    assert!(
        !c.logs().contains("/var/log/nginx"),
        "the second fix works: {}",
        c.logs()
    );
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "unwritable-path", "/run/nginx");
    assert_eq!(f["evidence"]["path"], "/run/nginx.pid", "{f:#}");
    assert!(fix_of(f).contains(FIX_NGINX_PID), "{f:#}");
    assert!(fix_of(f).contains(FIX_NGINX_PID_FILE), "{f:#}");
    // The same path gets the same fix from `why` and `entrypoint --test`.
    let out = Nosh::new()
        .arg(c.name())
        .c("why /run/nginx.pid write")
        .run();
    out.code_is(1)
        .stdout_has(FIX_NGINX_PID)
        .stdout_lacks("chown 65532:65532 /run ");
    let out = Nosh::new().arg(c.name()).c("entrypoint --test").run();
    out.code_is(1)
        .stdout_has("unwritable-path: the app needs to write /run/nginx.pid")
        .stdout_has(FIX_NGINX_PID);
}

#[test]
fn nginx_with_every_fix_serves_read_only_with_no_capabilities_and_no_error() {
    let image = corpus::nginx(3, true);
    let c = read_only(
        &image,
        &["/var/lib/nginx", "/var/log/nginx", "/run/nginx"],
        &[],
    );
    serves(&c, 8080);
    healthy(&c);
    // The same image on a writable root, judged for Kubernetes: what it
    // writes is named, with how it was seen, and nothing else.
    let w = Container::run(&image, &[]);
    serves(&w, 8080);
    let (code, v) = doctor(&w, &["--prod-like"]);
    assert_eq!(code, 1, "{v:#}");
    let ro = findings(&v, "readonly-rootfs");
    assert_eq!(ro.len(), 1, "{v:#}");
    assert_eq!(
        ro[0]["evidence"]["paths"],
        serde_json::json!(["/run/nginx", "/var/lib/nginx", "/var/log/nginx"]),
        "{v:#}"
    );
    let seen = ro[0]["evidence"]["writes"].to_string();
    assert!(
        seen.contains("/run/nginx/nginx.pid") && seen.contains("docker diff"),
        "{seen}"
    );
    assert!(seen.contains("open for writing"), "{seen}");
    assert_eq!(errors(&v), ["readonly-rootfs"], "{v:#}");
    // Two log files held by three processes: one finding each, counted.
    let logs = findings(&v, "logs-to-file");
    assert_eq!(logs.len(), 2, "{v:#}");
    assert!(
        logs.iter()
            .all(|l| l["evidence"]["processes"].as_u64() >= Some(2)),
        "{v:#}"
    );
}

#[test]
fn nginx_on_a_read_only_root_without_its_tmpfs_gets_one_over_its_own_directory() {
    // Real cause: --read-only and nothing writable where nginx makes its
    // temp directories: mkdir fails with EROFS.
    let c = exited(
        &corpus::nginx(3, true),
        &["--read-only", "--cap-drop", "ALL"],
    );
    assert!(c.logs().contains("Read-only file system"), "{}", c.logs());
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "unwritable-path", "/var/lib/nginx");
    assert_eq!(f["evidence"]["errno"], "EROFS", "{f:#}");
    assert!(
        fix_of(f).starts_with("docker run --tmpfs /var/lib/nginx:uid=65532,gid=65532"),
        "{f:#}"
    );
}

#[test]
fn a_docker_entrypoint_script_for_a_missing_shell_is_the_cause_of_the_exit() {
    // Real cause: ENTRYPOINT is a #!/bin/sh script and the image has no
    // /bin/sh; nginx itself would run.
    let c = exited(&corpus::nginx_with_entrypoint_script(), &[]);
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "script-needs-shell", "/docker-entrypoint.sh");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("/docker-entrypoint.sh is a script for /bin/sh"),
        "{f:#}"
    );
    assert!(fix_of(f).contains("ENTRYPOINT [\"/path/to/app\""), "{f:#}");
}

// ---------------------------------------------------------------------------
// haproxy: a daemon whose stock config switches users and chroots.
// ---------------------------------------------------------------------------

#[test]
fn haproxy_switching_to_a_user_the_image_lacks_needs_setuid_and_the_fix_removes_the_lines() {
    // Real cause: `user haproxy` / `group haproxy` (haproxy.cfg:7-8) name a
    // user the distroless passwd lacks; as 65532 the switch is moot.
    let c = exited(&corpus::haproxy(0), &[]);
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "needs-capability", "CAP_SETUID, CAP_SETGID");
    assert!(log_of(f).contains("cannot find"), "{f:#}");
    for line in FIX_HAPROXY_USER {
        assert!(fix_of(f).contains(line), "{f:#}");
    }
    assert!(!fix_of(f).contains("chown"), "{f:#}");
}

#[test]
fn haproxy_without_its_stats_socket_directory_gets_it_created_not_its_config_chowned() {
    // Real cause: the stats socket's directory /run/haproxy does not exist
    // (systemd made it); the log's [haproxy.cfg:5] is a config reference.
    let c = exited(&corpus::haproxy(1), &[]);
    assert!(
        !c.logs().contains("cannot find user id"),
        "the first fix works: {}",
        c.logs()
    );
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "unwritable-path", "/run/haproxy");
    assert!(log_of(f).contains("[/etc/haproxy/haproxy.cfg:5]"), "{f:#}");
    assert_eq!(f["evidence"]["path"], "/run/haproxy/admin.sock", "{f:#}");
    assert!(fix_of(f).contains(FIX_HAPROXY_RUN), "{f:#}");
    assert!(
        !v.to_string().contains("/etc/haproxy/haproxy.cfg\""),
        "no finding about the config file: {v:#}"
    );
}

#[test]
fn haproxy_chrooting_as_a_non_root_user_needs_sys_chroot_never_a_chown() {
    // Real cause: `chroot /var/lib/haproxy` (haproxy.cfg:4): chroot(2)
    // fails with EPERM without CAP_SYS_CHROOT.
    let c = exited(&corpus::haproxy(2), &[]);
    assert!(
        !c.logs().contains("cannot bind UNIX socket"),
        "the second fix works: {}",
        c.logs()
    );
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "needs-capability", "CAP_SYS_CHROOT");
    assert!(
        log_of(f).contains("Cannot chroot(/var/lib/haproxy)"),
        "{f:#}"
    );
    let calls = f["evidence"]["calls"].to_string();
    assert!(
        calls.contains("chroot(\\\"/var/lib/haproxy\\\") = -1 EPERM"),
        "{calls}"
    );
    assert_eq!(f["evidence"]["directives"][0]["line"], 4, "{f:#}");
    assert!(fix_of(f).contains(FIX_HAPROXY_CHROOT), "{f:#}");
    assert!(fix_of(f).contains("--cap-add SYS_CHROOT"), "{f:#}");
    assert!(
        !fix_of(f).contains("chown"),
        "an EPERM is never answered with chown: {f:#}"
    );
}

#[test]
fn doctor_run_of_the_haproxy_image_sees_the_chroot_that_the_engines_profile_refuses() {
    // The watched start stops at every call: under Docker's default seccomp
    // profile, chroot without CAP_SYS_CHROOT is refused by the profile,
    // before a filter of trace's own could have reported it.
    let out = Nosh::new()
        .args(["doctor", &corpus::haproxy(2), "--run", "--format", "json"])
        .timeout(Duration::from_secs(120))
        .run();
    let v = out.json();
    assert_eq!(out.code(), 1, "{v:#}");
    let f = the_cause(&v, "needs-capability", "CAP_SYS_CHROOT");
    let calls = f["evidence"]["calls"].to_string();
    assert!(
        calls.contains("chroot(\\\"/var/lib/haproxy\\\") = -1 EPERM"),
        "{f:#}"
    );
}

#[test]
fn haproxy_with_every_fix_runs_read_only_with_no_capabilities_and_no_error() {
    let c = read_only(&corpus::haproxy(3), &["/run/haproxy"], &[]);
    thread::sleep(Duration::from_secs(1));
    c.wait_running();
    healthy(&c);
}

// ---------------------------------------------------------------------------
// unbound: a privilege drop that fails without a word in the log.
// ---------------------------------------------------------------------------

#[test]
fn unbound_switching_to_its_own_user_fails_with_eperm_that_only_a_traced_start_shows() {
    // Real cause: unbound's compiled-in `username: "unbound"` (not in its
    // config files) makes it call setgroups and setresgid, which fail with
    // EPERM as 65532; it logs to syslog, so the container's log is empty.
    let c = exited(
        &corpus::unbound(),
        &["--sysctl", "net.ipv6.conf.all.disable_ipv6=0"],
    );
    assert_eq!(c.exit_code(), 1);
    assert!(!c.logs().contains("setgroups"), "{}", c.logs());
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "needs-capability", "CAP_SETUID, CAP_SETGID");
    let calls = f["evidence"]["calls"].to_string();
    assert!(calls.contains("setgroups() = -1 EPERM"), "{calls}");
    assert!(
        f["evidence"]["config_files"]
            .to_string()
            .contains("/etc/unbound/unbound.conf"),
        "{f:#}"
    );
    assert!(
        fix_of(f).contains("turn off the app's own attempt to switch"),
        "{f:#}"
    );
    // --no-start leaves the replica alone: then only the exit is known.
    let (_, v) = doctor(&c, &["--no-start"]);
    assert!(findings(&v, "needs-capability").is_empty(), "{v:#}");
    assert_eq!(errors(&v), ["crash-loop"], "{v:#}");
}

// ---------------------------------------------------------------------------
// postgresql: a data directory initialised by another uid.
// ---------------------------------------------------------------------------

#[test]
fn postgres_on_a_data_directory_initialised_by_uid_999_is_a_uid_assumption_once() {
    // Real cause: initdb ran as 999 in the build stage; the data directory
    // (0700) was copied as it is, and the image runs as 65532.
    let c = exited(&corpus::postgres_data_of_another_uid(), &[]);
    assert_eq!(c.exit_code(), 2, "{}", c.logs());
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "uid-assumption", "/var/lib/postgresql/data");
    assert_eq!(f["evidence"]["owner_uid"], POSTGRES_UID, "{f:#}");
    assert_eq!(f["evidence"]["app_uid"], 65532, "{f:#}");
    assert!(
        log_of(f).contains("could not access the server configuration file"),
        "{f:#}"
    );
    assert!(fix_of(f).contains("USER 999:999"), "{f:#}");
    assert!(
        fix_of(f).contains("chown -R 65532:65532 /var/lib/postgresql/data"),
        "{f:#}"
    );
    assert!(
        findings(&v, "unwritable-path")
            .iter()
            .all(|f| f["severity"] != "error"),
        "{v:#}"
    );
}

// ---------------------------------------------------------------------------
// A language runtime without tzdata, a TLS client without a CA bundle, a
// C++ program without libstdc++.
// ---------------------------------------------------------------------------

#[test]
fn a_python_service_looking_up_its_time_zone_without_tzdata_crashes_on_missing_tzdata() {
    // Real cause: TZ=Europe/Paris and zoneinfo finds no zone file: a
    // ZoneInfoNotFoundError ends the program. Not "runs in UTC".
    let c = exited(&corpus::python_report(false), &[]);
    assert!(c.logs().contains("ZoneInfoNotFoundError"), "{}", c.logs());
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "missing-tzdata", "/usr/share/zoneinfo/Europe/Paris");
    assert!(
        log_of(f).contains("No time zone found with key Europe/Paris"),
        "{f:#}"
    );
    assert!(
        fix_of(f).contains("COPY --from=build /usr/share/zoneinfo/Europe/Paris"),
        "{f:#}"
    );
    assert!(
        !f["message"].as_str().unwrap().contains("silently"),
        "{f:#}"
    );
}

#[test]
fn the_python_service_with_tzdata_runs_read_only_with_no_capabilities_and_no_error() {
    let c = read_only(&corpus::python_report(true), &[], &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.logs().contains("next run at") {
        assert!(Instant::now() < deadline, "{}", c.logs());
        thread::sleep(Duration::from_millis(100));
    }
    healthy(&c);
}

#[test]
fn curl_calling_an_https_api_without_a_ca_bundle_exits_77_on_missing_ca_bundle() {
    // Real cause: curl loads /etc/ssl/certs/ca-certificates.crt to verify
    // the server and the image has none: exit 77.
    let api = Container::run(&python_app_image(), &["-e", "LOG_FILE=-", "-e", "PORT=443"]);
    api.wait_port(443);
    let host = format!("api.internal:{}", api.ip());
    let c = exited(&corpus::curl_job(), &["--add-host", &host]);
    assert_eq!(c.exit_code(), 77, "{}", c.logs());
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "missing-ca-bundle", "ca-bundle");
    assert!(log_of(f).contains("curl: (77)"), "{f:#}");
    assert_eq!(f["evidence"]["https_in_command"], true, "{f:#}");
    assert!(
        fix_of(f).contains("COPY --from=build /etc/ssl/certs/ca-certificates.crt"),
        "{f:#}"
    );
    // `why` on the missing bundle gives the same fix, never an empty /etc/ssl.
    let out = Nosh::new()
        .arg(c.name())
        .c("why /etc/ssl/certs/ca-certificates.crt")
        .run();
    out.stdout_has("COPY --from=build /etc/ssl/certs/ca-certificates.crt")
        .stdout_lacks("mkdir")
        .stdout_lacks("chown");
}

#[test]
fn a_cpp_program_without_libstdcxx_exits_127_on_the_missing_library() {
    let c = exited(&cpp_app_image(false), &[]);
    let (_, v) = doctor(&c, &[]);
    let f = the_cause(&v, "missing-library", "libstdc++.so.6");
    assert_eq!(f["evidence"]["needed_by"], "/usr/bin/ninja", "{f:#}");
}
