//! `doctor` against fixtures that reproduce the classic hardened-image
//! migration failures, and a clean one that must raise no error.

mod common;

use common::{
    Container, Nosh, PythonOpts, python_app_image, python_app_image_with, static_app_image,
};
use serde_json::Value;

fn doctor(target: &Container, extra: &[&str]) -> (i32, Value) {
    let out = Nosh::new()
        .arg("doctor")
        .arg("--json")
        .args(extra)
        .arg(target.name())
        .run();
    let v: Value = serde_json::from_str(out.stdout()).unwrap_or_else(|e| {
        panic!(
            "doctor --json is not JSON ({e}):\n{}\n{}",
            out.stdout(),
            out.stderr()
        )
    });
    (out.code(), v)
}

fn findings<'a>(v: &'a Value, id: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

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
